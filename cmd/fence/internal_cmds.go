package main

import "github.com/fence-policy/fence/runtime"

// internalCommands are the hidden commands the runtime starts the fence
// binary as: `fence __init …` is the in-sandbox init (and the cleanup
// watchdog), `fence __socks-connect PROXY HOST PORT` is ssh's ProxyCommand
// inside the sandbox.
//
// Main dispatches them before urfave/cli sees the arguments, for two
// reasons: their arguments are the runtime's private protocol (flags such
// as -cleanup must reach it untouched, never be parsed or rejected as ours),
// and the init is on the start-up path of every sandbox, so it should not
// pay for building the CLI. They are not listed in any help.
var internalCommands = map[string]func(args []string) int{
	"__init":          runtime.InitMain,
	"__socks-connect": runtime.SocksConnectMain,
}

// internalCommand returns the internal command args names (args[0] is the
// program name), or nil.
func internalCommand(args []string) func([]string) int {
	if len(args) < 2 {
		return nil
	}
	return internalCommands[args[1]]
}
