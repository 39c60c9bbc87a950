# pip installs: the default profile plus PyPI (index and files) and pip's cache.
#
# Enough for `pip install` and `pip download` of public packages into a
# virtualenv inside the working directory. ~/.pypirc stays hidden (default
# profile): upload credentials are not needed to install.
extends = ["default"]

network {
  allowed_domains = [
    "pypi.org:443",
    "files.pythonhosted.org:443",
  ]
}

filesystem {
  allow_write = [
    "~/.cache/pip",
  ]
}
