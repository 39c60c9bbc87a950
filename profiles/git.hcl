# git over https: the default profile plus the big public git hosts, on port 443 only.
#
# Enough for `git clone` and `git fetch` of public repositories over https.
# Credentials stay hidden (~/.git-credentials, ~/.config/gh: default
# profile), so pushing is not possible; .git/hooks and .git/config stay
# write-protected.
extends = ["default"]

network {
  allowed_domains = [
    "github.com:443",
    "gitlab.com:443",
    "bitbucket.org:443",
    "codeberg.org:443",
    "git.sr.ht:443",
  ]
}
