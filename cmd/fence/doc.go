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
//	125  fence itself failed (reserved for `run`: failed before running the command)
//
// `fence run` and the seed's shorthand (`fence [flags] -- COMMAND`) come
// later; the root action is where the shorthand will plug in.
package main
