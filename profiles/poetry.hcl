# Poetry: the default profile plus PyPI (index and files) and Poetry's cache, which holds its virtual environments.
#
# Enough for `poetry install`, `poetry lock` and `poetry add` of public
# packages. On Linux Poetry caches downloads and, unless
# virtualenvs.in-project is set, keeps each project's virtual environment
# below ~/.cache/pypoetry (virtualenvs/). Its settings (~/.config/pypoetry)
# stay read-only, and auth.toml there, where Poetry keeps repository
# passwords when no keyring is available, is hidden; so are ~/.netrc and
# ~/.pypirc (default profile).
extends = ["default"]

network {
  allowed_domains = [
    "pypi.org:443",
    "files.pythonhosted.org:443",
  ]
}

filesystem {
  deny_read = [
    "~/.config/pypoetry/auth.toml",
  ]

  allow_write = [
    "~/.cache/pypoetry",
  ]
}
