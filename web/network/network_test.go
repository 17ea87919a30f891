package network

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetricsOfSmallGraphs(t *testing.T) {
	tests := []struct {
		name        string
		edges       []Edge
		nodes, m    int
		density     float64
		reciprocity float64
		// betweenness of one node, normalized by (n-1)(n-2)
		node        string
		betweenness float64
	}{
		{"path a->b->c", []Edge{{"a", "b", 1}, {"b", "c", 1}}, 3, 2, 2.0 / 6, 0, "b", 1.0 / 2},
		{"mutual pair", []Edge{{"a", "b", 2}, {"b", "a", 1}}, 2, 2, 1, 1, "a", 0},
		{"star into hub", []Edge{{"a", "h", 1}, {"b", "h", 1}, {"c", "h", 1}, {"h", "a", 1}}, 4, 4, 4.0 / 12, 0.5, "h", 2.0 / 6},
		{"self loops and zero weights dropped", []Edge{{"a", "a", 5}, {"a", "b", 0}, {"b", "c", 1}}, 2, 1, 0.5, 0, "b", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := Build(tt.edges)
			if g.N() != tt.nodes || g.M() != tt.m {
				t.Fatalf("N=%d M=%d, want %d %d", g.N(), g.M(), tt.nodes, tt.m)
			}
			if !near(g.Density(), tt.density) || !near(g.Reciprocity(), tt.reciprocity) {
				t.Errorf("density %v reciprocity %v, want %v %v", g.Density(), g.Reciprocity(), tt.density, tt.reciprocity)
			}
			bc := g.Betweenness(0)
			if i, ok := g.Index(tt.node); ok && !near(bc[i], tt.betweenness) {
				t.Errorf("betweenness(%s) = %v, want %v", tt.node, bc[i], tt.betweenness)
			}
			pr := g.PageRank(0.85, 1e-12)
			sum := 0.0
			for _, p := range pr {
				sum += p
			}
			if !near(sum, 1) {
				t.Errorf("PageRank sums to %v", sum)
			}
		})
	}
}

func TestPageRankOfCycleIsUniform(t *testing.T) {
	g := Build([]Edge{{"a", "b", 3}, {"b", "c", 3}, {"c", "a", 3}})
	for _, p := range g.PageRank(0.85, 1e-12) {
		if !near(p, 1.0/3) {
			t.Fatalf("PageRank %v, want 1/3 each", p)
		}
	}
}

func TestCommunitiesSplitTwoCliques(t *testing.T) {
	var edges []Edge
	clique := func(ids ...string) {
		for _, a := range ids {
			for _, b := range ids {
				if a != b {
					edges = append(edges, Edge{a, b, 1})
				}
			}
		}
	}
	clique("a1", "a2", "a3", "a4")
	clique("b1", "b2", "b3", "b4")
	edges = append(edges, Edge{"a1", "b1", 1})
	g := Build(edges)
	comm, q := g.Communities()
	id := func(s string) int { i, _ := g.Index(s); return comm[i] }
	for _, s := range []string{"a2", "a3", "a4"} {
		if id(s) != id("a1") {
			t.Errorf("%s not with a1: %v", s, comm)
		}
	}
	for _, s := range []string{"b2", "b3", "b4"} {
		if id(s) != id("b1") {
			t.Errorf("%s not with b1: %v", s, comm)
		}
	}
	if id("a1") == id("b1") || q < 0.4 {
		t.Errorf("cliques merged or modularity %v too low", q)
	}
	// Deterministic: the same edges reversed give the same answer.
	rev := make([]Edge, len(edges))
	for i, e := range edges {
		rev[len(edges)-1-i] = e
	}
	comm2, q2 := Build(rev).Communities()
	for i := range comm {
		if comm[i] != comm2[i] {
			t.Fatalf("communities depend on edge order: %v vs %v", comm, comm2)
		}
	}
	if q != q2 {
		t.Errorf("modularity %v vs %v", q, q2)
	}
}

func TestSampledBetweennessIsBounded(t *testing.T) {
	var edges []Edge
	for i := range 600 {
		edges = append(edges, Edge{string(rune('A'+i%26)) + string(rune('0'+i/26)), "hub", 1}, Edge{"hub", string(rune('a'+i%26)) + string(rune('0'+i/26)), 1})
	}
	m := Analyze(Build(edges))
	if !m.BetweennessSampled || m.Nodes < BetweennessSample {
		t.Fatalf("sampled=%v nodes=%d", m.BetweennessSampled, m.Nodes)
	}
	for _, n := range m.PerNode {
		// Exact: 600*600 paths through the hub of 1200*1199 ordered pairs.
		if exact := 360000.0 / (1200 * 1199); n.ID == "hub" && math.Abs(n.Betweenness-exact) > 0.25*exact {
			t.Errorf("hub betweenness %v, want about %v", n.Betweenness, exact)
		}
	}
}
