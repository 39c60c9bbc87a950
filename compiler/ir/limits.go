package ir

// Limit kinds, as the policy names them (lang/rule.LimitKind). Values are
// kept in one unit each: bytes (memory, file_size), processes (pids),
// thousandths of a CPU (cpu), milliseconds (wall).
const (
	LimitMemory   = "memory"
	LimitPids     = "pids"
	LimitCPU      = "cpu"
	LimitWall     = "wall"
	LimitFileSize = "file_size"
)

// LimitKinds lists the limit kinds in canonical (plan) order.
var LimitKinds = []string{LimitMemory, LimitPids, LimitCPU, LimitWall, LimitFileSize}

// Limit is one resource limit of the plan: the tightest the layers set for
// its kind (a later layer may tighten a limit, never loosen it).
type Limit struct {
	Kind  string `json:"kind"`
	Value int64  `json:"value"`
	// Text is the value for people, in the form the policy language reads
	// back ("512MiB", "1.5", "30m0s").
	Text   string `json:"text"`
	Origin Origin `json:"origin"`
	// Looser counts the other settings of this kind that the tighter one
	// overrides.
	Looser int `json:"looser,omitempty"`
}

// String renders the limit as a one-line limit: "limit memory 512MiB".
func (l Limit) String() string { return "limit " + l.Kind + " " + l.Text }

// Limit returns the plan's limit of a kind, if the policy sets one.
func (p *Plan) Limit(kind string) (Limit, bool) {
	for _, l := range p.Limits {
		if l.Kind == kind {
			return l, true
		}
	}
	return Limit{}, false
}

// SetLimit records a limit setting: kept when its kind has none yet or it
// is tighter than the one kept, counted as looser otherwise. Limits stay
// in canonical kind order.
func (p *Plan) SetLimit(l Limit) {
	for i, old := range p.Limits {
		if old.Kind != l.Kind {
			continue
		}
		if l.Value < old.Value {
			l.Looser = old.Looser + 1
			p.Limits[i] = l
		} else {
			p.Limits[i].Looser++
		}
		return
	}
	p.Limits = append(p.Limits, l)
	order := func(k string) int {
		for i, x := range LimitKinds {
			if x == k {
				return i
			}
		}
		return len(LimitKinds)
	}
	for i := len(p.Limits) - 1; i > 0 && order(p.Limits[i].Kind) < order(p.Limits[i-1].Kind); i-- {
		p.Limits[i], p.Limits[i-1] = p.Limits[i-1], p.Limits[i]
	}
}
