# uv: the default profile plus PyPI (index and files) and uv's cache.
#
# Enough for `uv sync`, `uv lock`, `uv pip install` and `uv run` with a
# Python that is already installed, the virtual environment in the project
# (.venv, the default). uv keeps one cache for everything, ~/.cache/uv.
# Left out: `uv python install` and Python downloads (they come from GitHub
# and land in ~/.local/share/uv/python), and `uv tool install` (its
# programs go to ~/.local/bin, which stays write-protected). uv's stored
# credentials (`uv auth login`) stay hidden; so do ~/.netrc and ~/.pypirc
# (default profile).
extends = ["default"]

network {
  allowed_domains = [
    "pypi.org:443",
    "files.pythonhosted.org:443",
  ]
}

filesystem {
  deny_read = [
    "~/.local/share/uv/credentials",
  ]

  allow_write = [
    "~/.cache/uv",
  ]
}
