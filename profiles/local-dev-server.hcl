# A development server on localhost: the default profile plus listening on, and connecting to, the sandbox's own loopback; no other network.
#
# For `npm run dev`, `vite`, `rails server`, `python -m http.server` and
# the like, after dependencies are installed. The server may listen on
# any port of the sandbox's own loopback and its tests may connect to it
# there; to reach it from the host's browser, expose its port:
#   fence run -p local-dev-server --expose 5173 -- npm run dev
# The host's own loopback services stay out of reach (no port of the
# host's 127.0.0.1 is bridged), and so does the rest of the network.
#
# allow_local_outbound follows allow_local_binding (on): the command's
# clients (tests, hot reload) must connect to its own server. It also lets
# an allowed name resolve to a private or loopback address; this profile
# allows no name, but if your policy adds hosts the server needs (an API,
# a CDN; extends = ["local-dev-server"]), pin them with --resolve or set
# allow_local_outbound = false if nothing connects to the server from
# inside.
extends = ["default"]

network {
  allowed_domains     = []
  allow_local_binding = true
}
