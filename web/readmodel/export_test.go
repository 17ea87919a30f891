package readmodel_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatnight/chatnight/web/export"
	"github.com/chatnight/chatnight/web/readmodel"
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

func sessionGraph(t *testing.T) export.ExportGraph {
	f := load(t)
	sess := f.session(t, 0)
	edges, err := readmodel.New(f.conn).Edges(context.Background(), []readmodel.Session{sess})
	if err != nil {
		t.Fatal(err)
	}
	m := readmodel.NetworkMetrics(edges, 0, nil)
	g := export.ExportGraph{Title: sess.ID, Edges: export.MergeKinds(edges)}
	for _, n := range m.PerNode {
		g.Nodes = append(g.Nodes, export.ExportNode{ID: n.ID, Label: strings.TrimPrefix(n.ID, "sim:") + " <&>", PageRank: n.PageRank, Community: n.Community})
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
		{"gexf", func(b *bytes.Buffer) error { return export.WriteGEXF(b, g, time.Unix(0, 0)) }, "http://gexf.net/1.3"},
		{"graphml", func(b *bytes.Buffer) error { return export.WriteGraphML(b, g) }, "http://graphml.graphdrawing.org/xmlns"},
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
