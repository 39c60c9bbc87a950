// Package supervisor serves the seccomp filter's user-notification
// listener inside the sandbox (Serve): under fence run -m and -d it
// answers the file, socket and refused system calls the filter hands it
// and reports each refusal as an event with the deciding rule; with
// command rules it decides the command line of every execve with
// ir.Plan.DecideArgv. It decides with the artifact's plan, Landlock port
// rules and private file systems (linux.Init), and sends events through
// the report function the init gives it (runtime/bridge).
package supervisor
