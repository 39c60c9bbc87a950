package bridge

// Exit statuses of a run that are not the command's own.
const (
	// ExitSetup is what the CLI exits with when Run returns a *SetupError:
	// fence failed before the command started.
	ExitSetup = 125
	// exitNotFound and exitCannotExec follow the shell's convention for a
	// command that could not be started at all.
	ExitNotFound   = 127
	ExitCannotExec = 126
	// ExitLimit is the status of a run a resource limit ended, as
	// timeout(1) exits when its time is up.
	ExitLimit = 124
)
