package lang

import "path"

// UserDirs are the two values the user's own fence files are found by:
// the home directory and XDG_CONFIG_HOME. They are inputs (the CLI and the
// Go API read them from the environment), so the lookup below is the same
// pure function for every command, for the Go API, and for the compiler,
// which write-protects the directory it names.
type UserDirs struct {
	// Home is the home directory (absolute).
	Home string
	// XDGConfigHome is $XDG_CONFIG_HOME as set. Empty or relative means
	// Home/.config: the XDG Base Directory spec says that a relative
	// value is invalid and must be ignored.
	XDGConfigHome string
}

// ConfigDir is fence's configuration directory: $XDG_CONFIG_HOME/fence,
// else ~/.config/fence; "" when neither is an absolute path.
func (d UserDirs) ConfigDir() string {
	if path.IsAbs(d.XDGConfigHome) {
		return path.Join(d.XDGConfigHome, "fence")
	}
	if !path.IsAbs(d.Home) {
		return ""
	}
	return path.Join(d.Home, ".config", "fence")
}

// ProfileDir is where user profiles live: ConfigDir()/profiles (the
// Loader's UserProfileDir); "" when ConfigDir is.
func (d UserDirs) ProfileDir() string {
	if dir := d.ConfigDir(); dir != "" {
		return path.Join(dir, "profiles")
	}
	return ""
}

// ConfigFiles are the user's policy files in lookup order (DESIGN §6):
// ConfigDir()/fence.hcl, ConfigDir()/fence.json, then the seed's
// ~/.fence.json. The first that exists is the policy of every command run
// without -p; without any, the shipped "default" profile. A file in the
// working directory is never one of them: the sandboxed code could have
// written it.
func (d UserDirs) ConfigFiles() []string {
	var files []string
	if dir := d.ConfigDir(); dir != "" {
		files = append(files, path.Join(dir, "fence.hcl"), path.Join(dir, "fence.json"))
	}
	if path.IsAbs(d.Home) {
		files = append(files, path.Join(d.Home, ".fence.json"))
	}
	return files
}
