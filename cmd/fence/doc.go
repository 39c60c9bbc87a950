// Command fence is the CLI of the fence sandbox: the only place where the
// stages (lang → compiler → targets) are wired together with the host.
//
// It reads the real process state (HOME, working directory, environment,
// policy files) and hands it to the pure packages as a compiler.Env and an
// fs.FS. Each subcommand lives in its own file and returns an error; Main
// maps errors to exit statuses:
//
//	0    success
//	1    `fence check --strict` found warnings
//	2    bad policy or bad usage (the message names the file or argument)
//	125  fence run: fence failed before the command started
//
// `fence run` (run.go) and the seed's shorthand `fence [flags] [--] COMMAND`
// (shorthand.go, the root action) compile like `fence compile` and hand the
// plan to package runtime; their exit status is the command's own, 128+N
// when it died of signal N. The hidden `__init`, `__socks-connect` and
// `__run` commands are the binary re-executed by the runtime inside the
// sandbox and by the Go API's Manager.WrapCommand lines; main dispatches
// them with fence.Main, the init hook every program that embeds fence
// calls (app.go's Main with fence.RunInternal, for in-process tests).
package main
