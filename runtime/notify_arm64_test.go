//go:build linux && arm64

package runtime

// legacyNotifyNumbers: arm64 has only the *at forms.
func legacyNotifyNumbers() map[string]uintptr { return nil }
