package analytics_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/analytics"
	"github.com/chatnight/chatnight/live"
)

// xmlGraph reads the parts of GEXF and GraphML that Gephi needs, namespaces aside.
type xmlGraph struct {
	XMLName xml.Name
	Graph   struct {
		Mode        string `xml:"mode,attr"`
		DefaultType string `xml:"defaultedgetype,attr"`
		EdgeDefault string `xml:"edgedefault,attr"`
		GexfNodes   []struct {
			ID    string `xml:"id,attr"`
			Label string `xml:"label,attr"`
		} `xml:"nodes>node"`
		GexfEdges []struct {
			Source string `xml:"source,attr"`
			Target string `xml:"target,attr"`
			Weight string `xml:"weight,attr"`
		} `xml:"edges>edge"`
		Nodes []struct {
			ID   string `xml:"id,attr"`
			Data []struct {
				Key   string `xml:"key,attr"`
				Value string `xml:",chardata"`
			} `xml:"data"`
		} `xml:"node"`
		Edges []struct {
			Source string `xml:"source,attr"`
			Target string `xml:"target,attr"`
			Data   []struct {
				Key   string `xml:"key,attr"`
				Value string `xml:",chardata"`
			} `xml:"data"`
		} `xml:"edge"`
	} `xml:"graph"`
}

func sessionGraph(t *testing.T) analytics.ExportGraph {
	f := load(t)
	sess := f.session(t, 0)
	edges, err := analytics.New(f.conn).Edges(context.Background(), []analytics.Session{sess})
	if err != nil {
		t.Fatal(err)
	}
	m := analytics.NetworkMetrics(edges, 0, nil)
	g := analytics.ExportGraph{Title: sess.ID, Edges: analytics.MergeKinds(edges)}
	for _, n := range m.PerNode {
		g.Nodes = append(g.Nodes, analytics.ExportNode{ID: n.ID, Label: strings.TrimPrefix(n.ID, "sim:") + " <&>", PageRank: n.PageRank, Community: n.Community})
	}
	return g
}

func TestGraphExportsAreGephiXML(t *testing.T) {
	g := sessionGraph(t)
	if len(g.Nodes) < 5 || len(g.Edges) < 5 {
		t.Fatalf("graph too small: %d nodes %d edges", len(g.Nodes), len(g.Edges))
	}
	var total uint64
	for _, e := range g.Edges {
		total += e.Weight
	}
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer) error
		space string
	}{
		{"gexf", func(b *bytes.Buffer) error { return analytics.WriteGEXF(b, g, time.Unix(0, 0)) }, "http://gexf.net/1.3"},
		{"graphml", func(b *bytes.Buffer) error { return analytics.WriteGraphML(b, g) }, "http://graphml.graphdrawing.org/xmlns"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			// Well-formed: every token decodes.
			dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
			for {
				if _, err := dec.Token(); err != nil {
					if err.Error() == "EOF" {
						break
					}
					t.Fatalf("not well-formed XML: %v", err)
				}
			}
			var doc xmlGraph
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.XMLName.Space != tt.space {
				t.Errorf("namespace %q, want %q", doc.XMLName.Space, tt.space)
			}
			ids := map[string]string{}
			var weight uint64
			type edge struct{ src, dst, w string }
			var edges []edge
			if tt.name == "gexf" {
				if doc.Graph.DefaultType != "directed" || doc.Graph.Mode != "static" {
					t.Errorf("graph mode %q type %q", doc.Graph.Mode, doc.Graph.DefaultType)
				}
				for _, n := range doc.Graph.GexfNodes {
					ids[n.ID] = n.Label
				}
				for _, e := range doc.Graph.GexfEdges {
					edges = append(edges, edge{e.Source, e.Target, e.Weight})
				}
			} else {
				if doc.Graph.EdgeDefault != "directed" {
					t.Errorf("edgedefault %q", doc.Graph.EdgeDefault)
				}
				for _, n := range doc.Graph.Nodes {
					for _, d := range n.Data {
						if d.Key == "label" {
							ids[n.ID] = d.Value
						}
					}
				}
				for _, e := range doc.Graph.Edges {
					for _, d := range e.Data {
						if d.Key == "weight" {
							edges = append(edges, edge{e.Source, e.Target, d.Value})
						}
					}
				}
			}
			if len(ids) != len(g.Nodes) || len(edges) != len(g.Edges) {
				t.Fatalf("%d nodes %d edges, want %d %d", len(ids), len(edges), len(g.Nodes), len(g.Edges))
			}
			for id, label := range ids {
				if label != strings.TrimPrefix(id, "sim:")+" <&>" {
					t.Errorf("node %s label %q", id, label)
				}
			}
			for _, e := range edges {
				if _, ok := ids[e.src]; !ok {
					t.Errorf("edge from unknown node %s", e.src)
				}
				if _, ok := ids[e.dst]; !ok {
					t.Errorf("edge to unknown node %s", e.dst)
				}
				w, err := strconv.ParseUint(e.w, 10, 64)
				if err != nil || w == 0 {
					t.Errorf("edge weight %q", e.w)
				}
				weight += w
			}
			if weight != total {
				t.Errorf("weights sum to %d, want %d", weight, total)
			}
		})
	}
}

func TestTranscriptFormats(t *testing.T) {
	sess := analytics.Session{ID: "s1", Community: "c", Start: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)}
	lines := []analytics.Line{
		{ID: "1", CreatedAt: sess.Start, Kind: "original", Handle: "host", Marks: "Q1", Text: "Q1: <script>alert(1)</script> & *bold*"},
		{ID: "2", CreatedAt: sess.Start.Add(time.Minute), Kind: "reply", Handle: "ana", Text: "=HYPERLINK(\"x\")\nsecond line", ReplyToID: "1"},
	}
	tests := []struct {
		format string
		check  func(t *testing.T, out string)
	}{
		{"csv", func(t *testing.T, out string) {
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(rows) != 3 || rows[0][0] != "id" {
				t.Fatalf("csv: %v %v", rows, err)
			}
			if !strings.HasPrefix(rows[2][8], "'=") {
				t.Errorf("formula not neutralized: %q", rows[2][8])
			}
		}},
		{"md", func(t *testing.T, out string) {
			if !strings.Contains(out, "&lt;script&gt;") || !strings.Contains(out, `\*bold\*`) || strings.Count(out, "\n- ") != 2 {
				t.Errorf("md:\n%s", out)
			}
		}},
		{"html", func(t *testing.T, out string) {
			if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") || strings.Count(out, `class="post"`) != 2 {
				t.Errorf("html:\n%s", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := analytics.WriteTranscript(&buf, tt.format, sess, lines); err != nil {
				t.Fatal(err)
			}
			tt.check(t, buf.String())
		})
	}
	if err := analytics.WriteTranscript(&bytes.Buffer{}, "pdf", sess, lines); err == nil {
		t.Error("an unknown format is accepted")
	}
}

func TestRedactorPost(t *testing.T) {
	r := analytics.NewRedactor("salt", nil, map[string]string{"ana": "sim:ana"})
	ps := r.Pseudonym("sim:ana")
	if !strings.HasPrefix(ps, analytics.PseudonymPrefix) || ps != r.Pseudonym("SIM:ANA") || ps == analytics.NewRedactor("other", nil, nil).Pseudonym("sim:ana") {
		t.Fatalf("pseudonym %q: must be stable per id and depend on the salt", ps)
	}
	tests := []struct {
		name string
		in   live.Post
		keep bool
		text string
	}{
		{"own post hidden", live.Post{AuthorID: "sim:ana", AuthorHandle: "ana", Text: "hi"}, false, ""},
		{"hidden by handle alone", live.Post{AuthorID: "x:1", AuthorHandle: "@Ana", Text: "hi"}, false, ""},
		{"mention rewritten", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "thanks @Ana and @anakin!",
			Mentions: []string{"sim:ana"}, MentionHandles: []string{"ana"}}, true, "thanks @" + ps + " and @anakin!"},
		{"reply to hidden", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "yes", ReplyToAuthor: "sim:ana"}, true, "yes"},
		{"repost of hidden withheld", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "RT @ana: secret", RepostOfAuthorID: "sim:ana"}, true, analytics.HiddenText},
		{"others untouched", live.Post{AuthorID: "sim:ben", AuthorHandle: "ben", Text: "@carol hi"}, true, "@carol hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.in
			if got := r.Post(&p); got != tt.keep {
				t.Fatalf("keep = %v, want %v", got, tt.keep)
			}
			if !tt.keep {
				return
			}
			if p.Text != tt.text {
				t.Errorf("text %q, want %q", p.Text, tt.text)
			}
			for _, v := range append(append([]string{p.ReplyToAuthor, p.RepostOfAuthorID}, p.Mentions...), p.MentionHandles...) {
				if strings.Contains(strings.ToLower(v), "ana") && !strings.Contains(v, "anakin") {
					t.Errorf("still names ana: %+v", p)
				}
			}
		})
	}
	var nilR *analytics.Redactor
	if p := (live.Post{AuthorID: "sim:ana"}); !nilR.Post(&p) || nilR.Hidden("sim:ana", "ana") {
		t.Error("a nil Redactor hides")
	}
}
