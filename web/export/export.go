package export

import (
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chatnight/chatnight/pipeline/copies"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/web/readmodel"
)

// Line is a post of a transcript export (already redacted).
type Line struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Kind      string    `json:"kind"`
	AuthorID  string    `json:"author_id"`
	Handle    string    `json:"handle"`
	Name      string    `json:"name,omitempty"`
	Marks     string    `json:"marks,omitempty"` // "Q1 A2"
	ReplyToID string    `json:"reply_to_id,omitempty"`
	Text      string    `json:"text"`
	URL       string    `json:"url,omitempty"`
	// Copies are everywhere the post appeared, when it also appeared on another
	// network (a bridged copy): its own network first.
	Copies []copies.Copy `json:"copies,omitempty"`
}

// appearedOn renders where a post appeared: "bluesky https://…; mastodon https://…".
func (l Line) appearedOn() string {
	var parts []string
	for _, c := range l.Copies {
		parts = append(parts, strings.TrimSpace(c.Network+" "+c.URL))
	}
	return strings.Join(parts, "; ")
}

// TranscriptFormats are the formats WriteTranscript writes (besides JSON, which the
// API writes itself).
var TranscriptFormats = []string{"csv", "md", "html"}

// WriteTranscript writes lines in format csv, md or html, with the manifest m (nil:
// none) in its header.
func WriteTranscript(w io.Writer, format string, sess readmodel.Session, lines []Line, m *Manifest) error {
	switch format {
	case "csv":
		writeCommentLines(w, m)
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "created_at", "kind", "author_id", "handle", "name", "marks", "reply_to_id", "text", "url", "appeared_on"})
		for _, l := range lines {
			cw.Write([]string{l.ID, l.CreatedAt.UTC().Format(time.RFC3339Nano), l.Kind, l.AuthorID, csvSafe(l.Handle), csvSafe(l.Name),
				l.Marks, l.ReplyToID, csvSafe(l.Text), csvURL(l.URL), csvSafe(l.appearedOn())})
		}
		cw.Flush()
		return cw.Error()
	case "md":
		fmt.Fprintf(w, "# %s — %s\n\n", mdEscape(sess.Community), mdEscape(sess.ID))
		fmt.Fprintf(w, "%s to %s UTC, %d posts\n\n", sess.Start.UTC().Format("2006-01-02 15:04"), sess.End.UTC().Format("15:04"), len(lines))
		if m != nil {
			for _, l := range m.Lines() {
				fmt.Fprintf(w, "> %s\n>\n", mdEscape(l))
			}
			fmt.Fprintf(w, "\n```json\n%s\n```\n\n", strings.ReplaceAll(m.JSON(), "`", `\u0060`))
		}
		for _, l := range lines {
			marks := ""
			if l.Marks != "" {
				marks = " **" + l.Marks + "**"
			}
			also := ""
			if len(l.Copies) > 0 {
				also = " _(appeared on " + mdEscape(l.appearedOn()) + ")_"
			}
			fmt.Fprintf(w, "- `%s` **@%s**%s (%s): %s%s\n", l.CreatedAt.UTC().Format("15:04:05"), mdEscape(l.Handle), marks, l.Kind,
				mdEscape(strings.ReplaceAll(l.Text, "\n", " ")), also)
		}
		return nil
	case "html":
		data := map[string]any{"Session": sess, "Lines": lines}
		if m != nil {
			data["Manifest"], data["ManifestJSON"] = m.Lines(), m.JSON()
		}
		return transcriptHTML.Execute(w, data)
	}
	return fmt.Errorf("unknown transcript format %q", format)
}

// csvSafe keeps spreadsheet applications from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvURL writes only http(s) URLs: ingest keeps nothing else as a url, and a row stored
// before that rule must not turn into a formula either.
func csvURL(s string) string {
	if post.WebURL(s) {
		return csvSafe(s)
	}
	return ""
}

var mdReplacer = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "#", `\#`, "|", `\|`)

func mdEscape(s string) string { return mdReplacer.Replace(s) }

var transcriptHTML = template.Must(template.New("transcript").Funcs(template.FuncMap{
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"day":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Session.Community}} — {{.Session.ID}}</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
.post{margin:.4rem 0}.t{color:#666;font-variant-numeric:tabular-nums}.m{font-weight:600;color:#a04}</style>
</head><body>
<h1>{{.Session.Community}} — {{.Session.ID}}</h1>
<p>{{day .Session.Start}} UTC, {{len .Lines}} posts</p>
{{if .Manifest}}<section class="manifest">{{range .Manifest}}<p>{{.}}</p>{{end}}<details><summary>Manifest</summary><pre>{{.ManifestJSON}}</pre></details></section>
{{end}}{{range .Lines}}<div class="post" id="{{.ID}}"><span class="t">{{clock .CreatedAt}}</span> <b><bdi>@{{.Handle}}</bdi></b>{{if .Marks}} <span class="m">{{.Marks}}</span>{{end}}: <bdi>{{.Text}}</bdi>{{if .Copies}} <span class="t">(appeared on{{range .Copies}} <a href="{{.URL}}">{{.Network}}</a>{{end}})</span>{{end}}</div>
{{end}}</body></html>
`))

// ExportNode is a node of a graph export.
type ExportNode struct {
	ID          string
	Label       string
	Posts       uint64
	IsHost      bool
	PageRank    float64
	Betweenness float64
	Community   int
	InDegree    int
	OutDegree   int
}

// ExportEdge is a directed edge of a graph export, with its weight per kind.
type ExportEdge struct {
	Src, Dst string
	Weight   uint64
	Kinds    map[string]uint64 // reply, mention, quote, repost
}

// ExportGraph is a graph ready to write.
type ExportGraph struct {
	Title    string
	Manifest *Manifest // nil: none
	Nodes    []ExportNode
	Edges    []ExportEdge
}

// EdgeKinds are the interaction kinds, in the order exports list them.
var EdgeKinds = []string{"reply", "mention", "quote", "repost"}

// MergeKinds sums edges of several kinds between the same accounts into one edge per
// (src, dst), keeping the per-kind weights.
func MergeKinds(edges []readmodel.KindEdge) []ExportEdge {
	idx := map[[2]string]int{}
	var out []ExportEdge
	for _, e := range edges {
		k := [2]string{e.Src, e.Dst}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, ExportEdge{Src: e.Src, Dst: e.Dst, Kinds: map[string]uint64{}})
		}
		out[i].Weight += e.Weight
		out[i].Kinds[e.Kind] += e.Weight
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Src != out[j].Src {
			return out[i].Src < out[j].Src
		}
		return out[i].Dst < out[j].Dst
	})
	return out
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', 10, 64) }

// gexf types: GEXF 1.3 (http://gexf.net/1.3), directed, static, with node and edge
// attributes Gephi reads.
type gexfDoc struct {
	XMLName xml.Name `xml:"gexf"`
	XMLNS   string   `xml:"xmlns,attr"`
	XSI     string   `xml:"xmlns:xsi,attr"`
	Schema  string   `xml:"xsi:schemaLocation,attr"`
	Version string   `xml:"version,attr"`
	Meta    struct {
		LastModified string `xml:"lastmodifieddate,attr"`
		Creator      string `xml:"creator"`
		Description  string `xml:"description"`
	} `xml:"meta"`
	Graph struct {
		Mode        string      `xml:"mode,attr"`
		DefaultType string      `xml:"defaultedgetype,attr"`
		Attrs       []gexfAttrs `xml:"attributes"`
		Nodes       []gexfNode  `xml:"nodes>node"`
		Edges       []gexfEdge  `xml:"edges>edge"`
	} `xml:"graph"`
}

type gexfAttrs struct {
	Class string     `xml:"class,attr"`
	Attrs []gexfAttr `xml:"attribute"`
}

type gexfAttr struct {
	ID    string `xml:"id,attr"`
	Title string `xml:"title,attr"`
	Type  string `xml:"type,attr"`
}

type gexfValue struct {
	For   string `xml:"for,attr"`
	Value string `xml:"value,attr"`
}

type gexfNode struct {
	ID     string      `xml:"id,attr"`
	Label  string      `xml:"label,attr"`
	Values []gexfValue `xml:"attvalues>attvalue"`
}

type gexfEdge struct {
	ID     string      `xml:"id,attr"`
	Source string      `xml:"source,attr"`
	Target string      `xml:"target,attr"`
	Weight string      `xml:"weight,attr"`
	Label  string      `xml:"label,attr,omitempty"`
	Values []gexfValue `xml:"attvalues>attvalue"`
}

var nodeAttrs = []gexfAttr{
	{"posts", "posts", "integer"}, {"host", "host", "boolean"}, {"pagerank", "pagerank", "double"},
	{"betweenness", "betweenness", "double"}, {"community", "community", "integer"},
	{"indegree", "in degree", "integer"}, {"outdegree", "out degree", "integer"},
}

func nodeValues(n ExportNode) []string {
	return []string{strconv.FormatUint(n.Posts, 10), strconv.FormatBool(n.IsHost), ftoa(n.PageRank), ftoa(n.Betweenness),
		strconv.Itoa(n.Community), strconv.Itoa(n.InDegree), strconv.Itoa(n.OutDegree)}
}

func edgeLabel(e ExportEdge) string {
	var parts []string
	for _, k := range EdgeKinds {
		if e.Kinds[k] > 0 {
			parts = append(parts, k)
		}
	}
	return strings.Join(parts, "+")
}

// WriteGEXF writes g as GEXF 1.3 for Gephi.
func WriteGEXF(w io.Writer, g ExportGraph, now time.Time) error {
	var d gexfDoc
	d.XMLNS, d.XSI, d.Version = "http://gexf.net/1.3", "http://www.w3.org/2001/XMLSchema-instance", "1.3"
	d.Schema = "http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd"
	d.Meta.LastModified, d.Meta.Creator, d.Meta.Description = now.UTC().Format("2006-01-02"), "chatnight", g.Title
	if g.Manifest != nil {
		d.Meta.Description += "\nmanifest: " + g.Manifest.JSON()
	}
	d.Graph.Mode, d.Graph.DefaultType = "static", "directed"
	edgeAttrs := []gexfAttr{}
	for _, k := range EdgeKinds {
		edgeAttrs = append(edgeAttrs, gexfAttr{k, k, "integer"})
	}
	d.Graph.Attrs = []gexfAttrs{{Class: "node", Attrs: nodeAttrs}, {Class: "edge", Attrs: edgeAttrs}}
	for _, n := range g.Nodes {
		gn := gexfNode{ID: n.ID, Label: n.Label}
		for i, v := range nodeValues(n) {
			gn.Values = append(gn.Values, gexfValue{nodeAttrs[i].ID, v})
		}
		d.Graph.Nodes = append(d.Graph.Nodes, gn)
	}
	for i, e := range g.Edges {
		ge := gexfEdge{ID: strconv.Itoa(i), Source: e.Src, Target: e.Dst, Weight: strconv.FormatUint(e.Weight, 10), Label: edgeLabel(e)}
		for _, k := range EdgeKinds {
			ge.Values = append(ge.Values, gexfValue{k, strconv.FormatUint(e.Kinds[k], 10)})
		}
		d.Graph.Edges = append(d.Graph.Edges, ge)
	}
	return writeXML(w, d)
}

// graphml types (http://graphml.graphdrawing.org/xmlns).
type graphmlDoc struct {
	XMLName xml.Name     `xml:"graphml"`
	XMLNS   string       `xml:"xmlns,attr"`
	XSI     string       `xml:"xmlns:xsi,attr"`
	Schema  string       `xml:"xsi:schemaLocation,attr"`
	Desc    string       `xml:"desc,omitempty"`
	Keys    []graphmlKey `xml:"key"`
	Graph   struct {
		ID          string        `xml:"id,attr"`
		EdgeDefault string        `xml:"edgedefault,attr"`
		Nodes       []graphmlElem `xml:"node"`
		Edges       []graphmlElem `xml:"edge"`
	} `xml:"graph"`
}

type graphmlKey struct {
	ID   string `xml:"id,attr"`
	For  string `xml:"for,attr"`
	Name string `xml:"attr.name,attr"`
	Type string `xml:"attr.type,attr"`
}

type graphmlData struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

type graphmlElem struct {
	ID     string        `xml:"id,attr"`
	Source string        `xml:"source,attr,omitempty"`
	Target string        `xml:"target,attr,omitempty"`
	Data   []graphmlData `xml:"data"`
}

var graphmlTypes = map[string]string{"integer": "long", "boolean": "boolean", "double": "double"}

// WriteGraphML writes g as GraphML (directed), with label, weight and the metrics as
// data keys; Gephi reads "label" and "weight".
func WriteGraphML(w io.Writer, g ExportGraph) error {
	var d graphmlDoc
	d.XMLNS, d.XSI = "http://graphml.graphdrawing.org/xmlns", "http://www.w3.org/2001/XMLSchema-instance"
	d.Schema = "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd"
	if g.Manifest != nil {
		d.Desc = g.Title + "\nmanifest: " + g.Manifest.JSON()
	}
	d.Keys = append(d.Keys, graphmlKey{"label", "node", "label", "string"})
	for _, a := range nodeAttrs {
		d.Keys = append(d.Keys, graphmlKey{a.ID, "node", a.ID, graphmlTypes[a.Type]})
	}
	d.Keys = append(d.Keys, graphmlKey{"weight", "edge", "weight", "double"}, graphmlKey{"kinds", "edge", "kinds", "string"})
	for _, k := range EdgeKinds {
		d.Keys = append(d.Keys, graphmlKey{"e_" + k, "edge", k, "long"})
	}
	d.Graph.ID, d.Graph.EdgeDefault = "G", "directed"
	for _, n := range g.Nodes {
		el := graphmlElem{ID: n.ID, Data: []graphmlData{{"label", n.Label}}}
		for i, v := range nodeValues(n) {
			el.Data = append(el.Data, graphmlData{nodeAttrs[i].ID, v})
		}
		d.Graph.Nodes = append(d.Graph.Nodes, el)
	}
	for i, e := range g.Edges {
		el := graphmlElem{ID: "e" + strconv.Itoa(i), Source: e.Src, Target: e.Dst,
			Data: []graphmlData{{"weight", strconv.FormatUint(e.Weight, 10)}, {"kinds", edgeLabel(e)}}}
		for _, k := range EdgeKinds {
			el.Data = append(el.Data, graphmlData{"e_" + k, strconv.FormatUint(e.Kinds[k], 10)})
		}
		d.Graph.Edges = append(d.Graph.Edges, el)
	}
	return writeXML(w, d)
}

func writeXML(w io.Writer, v any) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
