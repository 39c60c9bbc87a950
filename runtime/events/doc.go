// Package events is fence's report of what a sandbox allowed and refused:
// the Event type (a network decision of the proxies, or a file, exec,
// syscall or socket violation seen by the in-sandbox supervisor) and the
// Logger that prints events under -d and -m, as one text line or one JSON
// object per event.
//
// Every other runtime package produces events and hands them here: the
// proxies (runtime/proxy and its http and socks servers) log their
// decisions on the run's Logger, and the runtime's bridge logs the
// violations the init sends. This package renders and writes them; it
// decides nothing.
package events
