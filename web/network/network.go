// Package network computes the metrics of a participant graph: a directed graph whose
// nodes are accounts and whose weighted edges are interactions (replies, mentions,
// quotes, reposts) summed over kinds. Everything is deterministic: the same edges, in
// any order, give the same answers.
package network

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Edge is an interaction weight from Src to Dst (kinds already summed, or not: Build
// sums edges with the same ends).
type Edge struct {
	Src, Dst string
	Weight   float64
}

// Graph is a directed weighted graph over dense node indexes.
type Graph struct {
	IDs   []string       // node index -> id, sorted
	index map[string]int // id -> node index
	out   []map[int]float64
	in    []map[int]float64
}

// Build makes the graph of edges; self-loops and non-positive weights are dropped.
// extra adds nodes that may have no edge.
func Build(edges []Edge, extra ...string) *Graph {
	set := map[string]struct{}{}
	for _, e := range edges {
		if e.Src == e.Dst || e.Weight <= 0 || e.Src == "" || e.Dst == "" {
			continue
		}
		set[e.Src], set[e.Dst] = struct{}{}, struct{}{}
	}
	for _, id := range extra {
		if id != "" {
			set[id] = struct{}{}
		}
	}
	g := &Graph{index: make(map[string]int, len(set))}
	for id := range set {
		g.IDs = append(g.IDs, id)
	}
	sort.Strings(g.IDs)
	g.out = make([]map[int]float64, len(g.IDs))
	g.in = make([]map[int]float64, len(g.IDs))
	for i, id := range g.IDs {
		g.index[id] = i
		g.out[i], g.in[i] = map[int]float64{}, map[int]float64{}
	}
	for _, e := range edges {
		if e.Src == e.Dst || e.Weight <= 0 || e.Src == "" || e.Dst == "" {
			continue
		}
		s, d := g.index[e.Src], g.index[e.Dst]
		g.out[s][d] += e.Weight
		g.in[d][s] += e.Weight
	}
	return g
}

// N is the number of nodes.
func (g *Graph) N() int { return len(g.IDs) }

// M is the number of directed edges (distinct ordered pairs).
func (g *Graph) M() int {
	m := 0
	for _, o := range g.out {
		m += len(o)
	}
	return m
}

// Density is M / (N(N-1)), 0 for fewer than two nodes.
func (g *Graph) Density() float64 {
	n := float64(g.N())
	if n < 2 {
		return 0
	}
	return float64(g.M()) / (n * (n - 1))
}

// Reciprocity is the share of directed edges whose reverse edge exists too.
func (g *Graph) Reciprocity() float64 {
	m, r := 0, 0
	for s, o := range g.out {
		for d := range o {
			m++
			if _, ok := g.out[d][s]; ok {
				r++
			}
		}
	}
	if m == 0 {
		return 0
	}
	return float64(r) / float64(m)
}

// sortedKeys returns the keys of m in order, so float sums do not depend on map order.
func sortedKeys(m map[int]float64) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// PageRank is weighted PageRank with damping d: a node passes its rank to the nodes
// it points at in proportion to the edge weights; dangling nodes spread theirs evenly.
// It iterates until the L1 change is below tol (or 200 rounds). Ranks sum to 1.
func (g *Graph) PageRank(d, tol float64) []float64 {
	n := g.N()
	if n == 0 {
		return nil
	}
	outW := make([]float64, n)
	for i, o := range g.out {
		for _, k := range sortedKeys(o) {
			outW[i] += o[k]
		}
	}
	pr := make([]float64, n)
	for i := range pr {
		pr[i] = 1 / float64(n)
	}
	next := make([]float64, n)
	for round := 0; round < 200; round++ {
		dangling := 0.0
		for i := range pr {
			if outW[i] == 0 {
				dangling += pr[i]
			}
		}
		base := (1-d)/float64(n) + d*dangling/float64(n)
		diff := 0.0
		for v := 0; v < n; v++ {
			sum := 0.0
			for _, u := range sortedKeys(g.in[v]) {
				sum += pr[u] * g.in[v][u] / outW[u]
			}
			next[v] = base + d*sum
			diff += math.Abs(next[v] - pr[v])
		}
		pr, next = next, pr
		if diff < tol {
			break
		}
	}
	return pr
}

// Betweenness is the (unweighted, directed) betweenness centrality by Brandes'
// algorithm, normalized by (N-1)(N-2). With sample > 0 and fewer than N nodes, it
// starts from sample sources picked with a fixed seed and scales up, an estimate for
// large graphs.
func (g *Graph) Betweenness(sample int) []float64 {
	n := g.N()
	cb := make([]float64, n)
	if n < 3 {
		return cb
	}
	sources := make([]int, n)
	for i := range sources {
		sources[i] = i
	}
	scale := 1.0
	if sample > 0 && sample < n {
		rng := rand.New(rand.NewPCG(1, 2))
		rng.Shuffle(n, func(i, j int) { sources[i], sources[j] = sources[j], sources[i] })
		sources = sources[:sample]
		slices.Sort(sources)
		scale = float64(n) / float64(sample)
	}
	adj := make([][]int, n)
	for i, o := range g.out {
		adj[i] = sortedKeys(o)
	}
	sigma := make([]float64, n)
	dist := make([]int, n)
	delta := make([]float64, n)
	preds := make([][]int, n)
	stack := make([]int, 0, n)
	queue := make([]int, 0, n)
	for _, s := range sources {
		for i := range n {
			sigma[i], dist[i], delta[i], preds[i] = 0, -1, 0, preds[i][:0]
		}
		sigma[s], dist[s] = 1, 0
		stack, queue = stack[:0], append(queue[:0], s)
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			stack = append(stack, v)
			for _, w := range adj[v] {
				if dist[w] < 0 {
					dist[w] = dist[v] + 1
					queue = append(queue, w)
				}
				if dist[w] == dist[v]+1 {
					sigma[w] += sigma[v]
					preds[w] = append(preds[w], v)
				}
			}
		}
		for i := len(stack) - 1; i >= 0; i-- {
			w := stack[i]
			for _, v := range preds[w] {
				delta[v] += sigma[v] / sigma[w] * (1 + delta[w])
			}
			if w != s {
				cb[w] += delta[w]
			}
		}
	}
	norm := scale / float64((n-1)*(n-2))
	for i := range cb {
		cb[i] *= norm
	}
	return cb
}

// Communities finds communities with the Louvain method on the undirected graph
// (weights of u->v and v->u summed). It returns each node's community, numbered from 0
// by first appearance in node order, and the modularity of that partition.
func (g *Graph) Communities() ([]int, float64) {
	n := g.N()
	if n == 0 {
		return nil, 0
	}
	// Undirected adjacency.
	adj := make([]map[int]float64, n)
	for i := range adj {
		adj[i] = map[int]float64{}
	}
	for s, o := range g.out {
		for d, w := range o {
			adj[s][d] += w
			adj[d][s] += w
		}
	}
	member := make([]int, n) // original node -> community
	for i := range member {
		member[i] = i
	}
	level := adj
	for {
		moved, part := louvainPass(level)
		if !moved {
			break
		}
		for i := range member {
			member[i] = part[member[i]]
		}
		level = aggregate(level, part)
		if len(level) == 1 {
			break
		}
	}
	// Renumber by first appearance.
	names := map[int]int{}
	for i, c := range member {
		if _, ok := names[c]; !ok {
			names[c] = len(names)
		}
		member[i] = names[c]
	}
	return member, modularity(adj, member)
}

// louvainPass moves nodes between communities while modularity grows; part maps each
// node to a community numbered 0..k-1.
func louvainPass(adj []map[int]float64) (moved bool, part []int) {
	n := len(adj)
	k := make([]float64, n) // weighted degree (self loops count twice)
	m2 := 0.0
	for i, a := range adj {
		for _, j := range sortedKeys(a) {
			w := a[j]
			if j == i {
				w *= 2
			}
			k[i] += w
		}
		m2 += k[i]
	}
	comm := make([]int, n)
	tot := make([]float64, n)
	for i := range comm {
		comm[i], tot[i] = i, k[i]
	}
	if m2 == 0 {
		return false, comm
	}
	for improved := true; improved; {
		improved = false
		for i := 0; i < n; i++ {
			ci := comm[i]
			links := map[int]float64{}
			for _, j := range sortedKeys(adj[i]) {
				if j != i {
					links[comm[j]] += adj[i][j]
				}
			}
			tot[ci] -= k[i]
			best, bestGain := ci, links[ci]-tot[ci]*k[i]/m2
			for _, c := range sortedKeys(links) {
				gain := links[c] - tot[c]*k[i]/m2
				if gain > bestGain+1e-12 {
					best, bestGain = c, gain
				}
			}
			tot[best] += k[i]
			if best != ci {
				comm[i] = best
				improved, moved = true, true
			}
		}
	}
	names := map[int]int{}
	for i, c := range comm {
		if _, ok := names[c]; !ok {
			names[c] = len(names)
		}
		comm[i] = names[c]
	}
	return moved, comm
}

func aggregate(adj []map[int]float64, part []int) []map[int]float64 {
	k := 0
	for _, c := range part {
		k = max(k, c+1)
	}
	out := make([]map[int]float64, k)
	for i := range out {
		out[i] = map[int]float64{}
	}
	for i, a := range adj {
		for j, w := range a {
			if i == j {
				w *= 2 // a self-loop's weight counts in both directions
			}
			out[part[i]][part[j]] += w
		}
	}
	// Inside a community each edge was added from both ends: halve the self-loops.
	for c := range out {
		if w, ok := out[c][c]; ok {
			out[c][c] = w / 2
		}
	}
	return out
}

// modularity of partition member on the undirected graph adj.
func modularity(adj []map[int]float64, member []int) float64 {
	m2 := 0.0
	k := make([]float64, len(adj))
	for i, a := range adj {
		for _, j := range sortedKeys(a) {
			k[i] += a[j]
		}
		m2 += k[i]
	}
	if m2 == 0 {
		return 0
	}
	q := 0.0
	tot := map[int]float64{}
	for i, a := range adj {
		tot[member[i]] += k[i]
		for _, j := range sortedKeys(a) {
			if member[i] == member[j] {
				q += a[j]
			}
		}
	}
	q /= m2
	for _, c := range sortedKeys(tot) {
		q -= (tot[c] / m2) * (tot[c] / m2)
	}
	return q
}

// Degrees returns the in- and out-degree (distinct neighbours) and the weighted in-
// and out-strength of each node.
func (g *Graph) Degrees() (in, out []int, inW, outW []float64) {
	n := g.N()
	in, out, inW, outW = make([]int, n), make([]int, n), make([]float64, n), make([]float64, n)
	for i := range n {
		out[i], in[i] = len(g.out[i]), len(g.in[i])
		for _, k := range sortedKeys(g.out[i]) {
			outW[i] += g.out[i][k]
		}
		for _, k := range sortedKeys(g.in[i]) {
			inW[i] += g.in[i][k]
		}
	}
	return in, out, inW, outW
}

// Index is the node index of id.
func (g *Graph) Index(id string) (int, bool) {
	i, ok := g.index[id]
	return i, ok
}

// NodeMetrics are the metrics of one node.
type NodeMetrics struct {
	ID          string  `json:"id"`
	Handle      string  `json:"handle,omitempty"` // filled by the caller that knows the accounts
	InDegree    int     `json:"in_degree"`
	OutDegree   int     `json:"out_degree"`
	InWeight    float64 `json:"in_weight"`
	OutWeight   float64 `json:"out_weight"`
	PageRank    float64 `json:"pagerank"`
	Betweenness float64 `json:"betweenness"`
	Community   int     `json:"community"`
}

// Metrics summarises a graph.
type Metrics struct {
	Nodes       int     `json:"nodes"`
	Edges       int     `json:"edges"`
	Density     float64 `json:"density"`
	Reciprocity float64 `json:"reciprocity"`
	Communities int     `json:"communities"`
	Modularity  float64 `json:"modularity"`
	// BetweennessSampled says betweenness was estimated from a sample of sources.
	BetweennessSampled bool          `json:"betweenness_sampled"`
	PerNode            []NodeMetrics `json:"per_node"` // PageRank order, highest first
}

// BetweennessSample is the number of sources used for betweenness above which the
// estimate is sampled.
const BetweennessSample = 256

// Analyze computes every metric of g.
func Analyze(g *Graph) Metrics {
	m := Metrics{Nodes: g.N(), Edges: g.M(), Density: g.Density(), Reciprocity: g.Reciprocity(), PerNode: []NodeMetrics{}}
	if g.N() == 0 {
		return m
	}
	pr := g.PageRank(0.85, 1e-10)
	sample := 0
	if g.N() > BetweennessSample {
		sample, m.BetweennessSampled = BetweennessSample, true
	}
	bc := g.Betweenness(sample)
	comm, q := g.Communities()
	in, out, inW, outW := g.Degrees()
	k := 0
	for i, id := range g.IDs {
		k = max(k, comm[i]+1)
		m.PerNode = append(m.PerNode, NodeMetrics{ID: id, InDegree: in[i], OutDegree: out[i], InWeight: inW[i], OutWeight: outW[i],
			PageRank: pr[i], Betweenness: bc[i], Community: comm[i]})
	}
	m.Communities, m.Modularity = k, q
	sort.SliceStable(m.PerNode, func(i, j int) bool {
		if m.PerNode[i].PageRank != m.PerNode[j].PageRank {
			return m.PerNode[i].PageRank > m.PerNode[j].PageRank
		}
		return m.PerNode[i].ID < m.PerNode[j].ID
	})
	return m
}
