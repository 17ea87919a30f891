// Package static holds the page's assets: plain HTML, CSS and JavaScript modules,
// embedded in the binary; no build step.
package static

import "embed"

// FS holds index.html (the viewer), host.html (the host console) and the files under assets/.
//
//go:embed index.html host.html assets
var FS embed.FS
