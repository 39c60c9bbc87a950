package rule

import "fmt"

// EnvName is an environment variable name pattern: letters, digits and "_",
// with "*" and "?" as wildcards ("NPM_CONFIG_*").
type EnvName struct {
	Pattern string
}

// ParseEnvName validates an environment variable name pattern.
func ParseEnvName(s string) (EnvName, error) {
	if s == "" {
		return EnvName{}, &Error{Msg: "empty variable name"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c == '*' || c == '?' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !ok {
			return EnvName{}, &Error{Offset: i, End: i + 1, Msg: fmt.Sprintf("%q is not allowed in a variable name", string(c)), Hint: "names are letters, digits and _, with * and ? as wildcards"}
		}
	}
	if c := s[0]; c >= '0' && c <= '9' {
		return EnvName{}, &Error{Offset: 0, End: 1, Msg: "a variable name cannot start with a digit"}
	}
	return EnvName{Pattern: s}, nil
}
