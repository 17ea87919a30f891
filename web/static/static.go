// Package static holds the page's assets: plain HTML, CSS and JavaScript modules,
// embedded in the binary; no build step.
package static

import "embed"

// FS holds index.html and the files under assets/.
//
//go:embed index.html assets
var FS embed.FS
