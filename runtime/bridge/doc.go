// Package bridge is what fence's host side (package runtime) and its init
// inside the sandbox (runtime/initproc) share: the one SOCK_SEQPACKET
// socketpair between them and its messages (Channel; violation events as
// 'E' messages), the descriptor numbers the init inherits, the sealed
// memfd that carries the init's settings, the exit statuses, the signals
// passed on to the command and the terminal handover. It decides nothing.
package bridge
