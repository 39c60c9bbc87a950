package fence

import (
	"os"
	"path/filepath"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/lang"
)

// UserDirs are HOME and XDG_CONFIG_HOME, the inputs of the user config
// lookup (lang.UserDirs: ConfigDir, ProfileDir, ConfigFiles).
type UserDirs = lang.UserDirs

// UserDirsOf returns the UserDirs of a compiler.Env: its Home and its
// XDG_CONFIG_HOME variable. Every command and the Go API find the user's
// files from the Env that HostEnv built, so they all agree.
func UserDirsOf(env compiler.Env) UserDirs {
	return UserDirs{Home: env.Home, XDGConfigHome: env.Vars["XDG_CONFIG_HOME"]}
}

// HostUserDirs reads HOME and XDG_CONFIG_HOME from this process's
// environment, for what needs no compiler.Env (fence profiles, fence config
// init). Home is "" when HOME is unset or not absolute.
func HostUserDirs() UserDirs {
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		home = ""
	} else {
		home = filepath.Clean(home)
	}
	return UserDirs{Home: home, XDGConfigHome: os.Getenv("XDG_CONFIG_HOME")}
}

// FindUserConfig returns the first of d.ConfigFiles() that exists, or ""
// when none does. Anything there but a directory counts: the loader
// refuses a FIFO or device by name instead of fence skipping it silently.
func FindUserConfig(d UserDirs) string {
	for _, p := range d.ConfigFiles() {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// DefaultProfile is the shipped profile used when no user config exists.
const DefaultProfile = "default"

// DefaultPolicy is the policy every command uses without -p (DESIGN §6):
// the user config (FindUserConfig: $XDG_CONFIG_HOME/fence/fence.hcl, then
// fence.json there, XDG_CONFIG_HOME defaulting to ~/.config, then
// ~/.fence.json), else the shipped "default" profile.
func DefaultPolicy(env compiler.Env) string {
	if p := FindUserConfig(UserDirsOf(env)); p != "" {
		return p
	}
	return DefaultProfile
}

// UserProfileDir is where user profiles live for env:
// $XDG_CONFIG_HOME/fence/profiles, else ~/.config/fence/profiles.
func UserProfileDir(env compiler.Env) string {
	return UserDirsOf(env).ProfileDir()
}
