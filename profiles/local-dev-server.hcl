# A development server on localhost: the default profile plus listening on the sandbox's loopback; no other network.
#
# For `npm run dev`, `vite`, `rails server`, `python -m http.server` and
# the like, after dependencies are installed. The server may listen on
# any port of the sandbox's own loopback and its tests may connect to it
# there; to reach it from the host's browser, expose its port:
#   fence run -p local-dev-server --expose 5173 -- npm run dev
# Names that resolve to private or loopback addresses stay refused
# (allow_local_outbound = false): a page or script cannot use DNS to reach
# the host's own services. Hosts the server needs (an API, a CDN) are for
# your own policy (extends = ["local-dev-server"]).
extends = ["default"]

network {
  allowed_domains      = []
  allow_local_binding  = true
  allow_local_outbound = false
}
