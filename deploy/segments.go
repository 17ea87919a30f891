package deploy

import _ "embed"

// DefaultSegments is segments.yaml: the default stakeholder-segment rules, read by
// pipeline/segments. Editing the file and rebuilding changes the defaults; a
// communities file can name another rules file (segment_rules) or override segments
// per community.
//
//go:embed segments.yaml
var DefaultSegments []byte
