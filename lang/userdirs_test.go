package lang

import (
	"slices"
	"testing"
)

func TestUserDirsLookupOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       UserDirs
		files   []string
		profile string
	}{
		{"home only", UserDirs{Home: "/home/u"},
			[]string{"/home/u/.config/fence/fence.hcl", "/home/u/.config/fence/fence.json", "/home/u/.fence.json"},
			"/home/u/.config/fence/profiles"},
		{"absolute XDG_CONFIG_HOME", UserDirs{Home: "/home/u", XDGConfigHome: "/cfg/"},
			[]string{"/cfg/fence/fence.hcl", "/cfg/fence/fence.json", "/home/u/.fence.json"},
			"/cfg/fence/profiles"},
		// The XDG spec: a relative value is invalid and ignored.
		{"relative XDG_CONFIG_HOME", UserDirs{Home: "/home/u", XDGConfigHome: "cfg"},
			[]string{"/home/u/.config/fence/fence.hcl", "/home/u/.config/fence/fence.json", "/home/u/.fence.json"},
			"/home/u/.config/fence/profiles"},
		{"no home", UserDirs{XDGConfigHome: "/cfg"},
			[]string{"/cfg/fence/fence.hcl", "/cfg/fence/fence.json"}, "/cfg/fence/profiles"},
		{"nothing", UserDirs{Home: "home", XDGConfigHome: "cfg"}, nil, ""},
	} {
		if got := tc.d.ConfigFiles(); !slices.Equal(got, tc.files) {
			t.Errorf("%s: ConfigFiles() = %q, want %q", tc.name, got, tc.files)
		}
		if got := tc.d.ProfileDir(); got != tc.profile {
			t.Errorf("%s: ProfileDir() = %q, want %q", tc.name, got, tc.profile)
		}
	}
}
