// Package people links accounts into people: a person is one or more accounts on X,
// Mastodon and Bluesky. Accounts link only on evidence, and every link keeps its
// reason; with no evidence nothing is linked, since a false merge is worse than a
// missed one. The evidence:
//
//   - Bridgy Fed: a Bluesky account seen on Mastodon as handle@bsky.brid.gy, and a
//     fediverse account seen on Bluesky as user.instance.ap.brid.gy;
//   - verified Mastodon profile links: a field with verified_at whose URL's domain is
//     also a Bluesky handle, or the same verified URL on two accounts;
//   - people declared in the communities file (people:), for what evidence cannot show.
//
// The processor stores each author's claims (Claims) as it sees posts; readers resolve
// the claims of the accounts they show into a Mapping, account -> person, and apply it
// in one place.
package people

import (
	"net/url"
	"sort"
	"strings"
)

// Claim says an account holds an identity key: its own id and handle, or an identity
// that evidence ties it to. Two accounts holding the same key are one person. Reason
// is "" for an account's own keys and says what the evidence is otherwise.
type Claim struct {
	AccountID string `ch:"account_id"`
	Key       string `ch:"claim"`
	Reason    string `ch:"reason"`
}

// Bridgy Fed's bridge domains.
const (
	bridgedFromBluesky   = "bsky.brid.gy" // a Bluesky account on the fediverse: handle@bsky.brid.gy
	bridgedFromFediverse = ".ap.brid.gy"  // a fediverse account on Bluesky: user.instance.ap.brid.gy
)

// IDKey is the key every account holds: its own id.
func IDKey(accountID string) string { return "id:" + accountID }

// HandleKey is the key of a handle on a network ("bluesky", "mastodon", "x"), in the
// form the config's people: section writes accounts ("x:colin_hung").
func HandleKey(network, handle string) string {
	return "handle:" + network + ":" + strings.ToLower(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
}

// Claims are the keys account holds, from what its posts say of it: its id and
// handle, and what Bridgy Fed handles and verified links tie it to.
func Claims(accountID, handle string, verifiedLinks []string) []Claim {
	if accountID == "" {
		return nil
	}
	network, _, _ := strings.Cut(accountID, ":")
	out := []Claim{{AccountID: accountID, Key: IDKey(accountID)}}
	handle = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(handle), "@"))
	if handle == "" || network == "bluesky" && strings.HasPrefix(handle, "did:") {
		return out // no handle known: a DID standing in for one is no handle
	}
	out = append(out, Claim{AccountID: accountID, Key: HandleKey(network, handle)})
	switch network {
	case "mastodon":
		if user, domain, ok := strings.Cut(handle, "@"); ok && domain == bridgedFromBluesky && user != "" {
			out = append(out, Claim{AccountID: accountID, Key: HandleKey("bluesky", user),
				Reason: "Bridgy Fed: " + handle + " on Mastodon is Bluesky @" + user})
		}
		for _, link := range verifiedLinks {
			u, err := url.Parse(strings.TrimSpace(link))
			if err != nil || u.Hostname() == "" {
				continue
			}
			host := strings.ToLower(strings.TrimPrefix(u.Hostname(), "www."))
			// Only a bare domain can be a handle: https://github.com/alice says nothing
			// about the Bluesky account github.com.
			if strings.Contains(host, ".") && strings.Trim(u.Path, "/") == "" && u.RawQuery == "" {
				out = append(out, Claim{AccountID: accountID, Key: HandleKey("bluesky", host),
					Reason: "verified Mastodon link " + link + " is Bluesky handle @" + host})
			}
			out = append(out, Claim{AccountID: accountID, Key: "url:" + normalURL(u),
				Reason: "same verified link " + link})
		}
	case "bluesky":
		if rest, ok := strings.CutSuffix(handle, bridgedFromFediverse); ok {
			if user, instance, ok := strings.Cut(rest, "."); ok && user != "" && strings.Contains(instance, ".") {
				acct := user + "@" + instance
				out = append(out, Claim{AccountID: accountID, Key: HandleKey("mastodon", acct),
					Reason: "Bridgy Fed: Bluesky @" + handle + " is " + acct + " on the fediverse"})
			}
		}
	}
	return out
}

// normalURL folds what does not change where a link points: scheme, case of the
// host, "www.", a trailing slash.
func normalURL(u *url.URL) string {
	host := strings.ToLower(strings.TrimPrefix(u.Hostname(), "www."))
	return host + strings.TrimSuffix(u.EscapedPath(), "/")
}

// Declared is a person listed in the communities file: a name and the accounts, as
// "network:handle" ("x:colin_hung", "mastodon:colin@mastodon.social",
// "bluesky:colin.bsky.social") or account ids ("bluesky:did:plc:…", "x:12345").
type Declared struct {
	Name     string   `yaml:"name"`
	Accounts []string `yaml:"accounts"`
}

// Keys are the identity keys the declared accounts may be held under.
func (d Declared) Keys() []string {
	var out []string
	for _, a := range d.Accounts {
		network, rest, ok := strings.Cut(strings.TrimSpace(a), ":")
		if !ok || rest == "" {
			continue
		}
		out = append(out, IDKey(network+":"+rest), HandleKey(network, rest))
	}
	return out
}

// Person is one or more linked accounts.
type Person struct {
	// ID names the person: the smallest of its account ids, so it is stable while the
	// accounts stay linked.
	ID       string   `json:"id"`
	Accounts []string `json:"accounts"` // sorted
	// Why lists the evidence that links the accounts, one line each, sorted.
	Why []string `json:"why,omitempty"`
}

// Networks counts the person's accounts per network.
func (p *Person) Networks() map[string]int {
	out := map[string]int{}
	for _, a := range p.Accounts {
		n, _, _ := strings.Cut(a, ":")
		out[n]++
	}
	return out
}

// Mapping maps accounts to people. A nil *Mapping maps every account to itself.
type Mapping struct {
	of     map[string]*Person
	linked []*Person
}

// Resolve links the accounts of claims: two accounts holding the same key are one
// person, as are the accounts of one declared person.
func Resolve(claims []Claim, declared []Declared) *Mapping {
	parent := map[string]string{}
	var find func(string) string
	find = func(a string) string {
		if p, ok := parent[a]; ok && p != a {
			r := find(p)
			parent[a] = r
			return r
		}
		parent[a] = a
		return a
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		if rb < ra {
			ra, rb = rb, ra
		}
		parent[rb] = ra
	}
	holders := map[string][]Claim{}
	for _, c := range claims {
		find(c.AccountID)
		holders[c.Key] = append(holders[c.Key], c)
	}
	why := map[string]map[string]bool{} // account -> reasons that linked it
	addWhy := func(account, reason string) {
		if why[account] == nil {
			why[account] = map[string]bool{}
		}
		why[account][reason] = true
	}
	for _, hs := range holders {
		accounts := map[string]bool{}
		for _, h := range hs {
			accounts[h.AccountID] = true
		}
		if len(accounts) < 2 {
			continue
		}
		first := hs[0].AccountID
		for _, h := range hs {
			union(first, h.AccountID)
			if h.Reason != "" {
				addWhy(h.AccountID, h.Reason)
			}
		}
	}
	for _, d := range declared {
		var members []string
		for _, k := range d.Keys() {
			for _, h := range holders[k] {
				members = append(members, h.AccountID)
			}
		}
		for _, m := range members {
			union(members[0], m)
			if len(members) > 1 {
				addWhy(m, "declared in the communities file as "+d.Name)
			}
		}
	}
	groups := map[string][]string{}
	for a := range parent {
		r := find(a)
		groups[r] = append(groups[r], a)
	}
	m := &Mapping{of: map[string]*Person{}}
	for root, accounts := range groups {
		if len(accounts) < 2 {
			continue
		}
		sort.Strings(accounts)
		p := &Person{ID: root, Accounts: accounts}
		reasons := map[string]bool{}
		for _, a := range accounts {
			for r := range why[a] {
				reasons[r] = true
			}
			m.of[a] = p
		}
		for r := range reasons {
			p.Why = append(p.Why, r)
		}
		sort.Strings(p.Why)
		m.linked = append(m.linked, p)
	}
	sort.Slice(m.linked, func(i, j int) bool { return m.linked[i].ID < m.linked[j].ID })
	return m
}

// Of is the person account belongs to: its own id when it is linked to no other.
func (m *Mapping) Of(account string) string {
	if m == nil {
		return account
	}
	if p, ok := m.of[account]; ok {
		return p.ID
	}
	return account
}

// Person is the person with id, nil for an account linked to no other.
func (m *Mapping) Person(id string) *Person {
	if m == nil {
		return nil
	}
	if p, ok := m.of[id]; ok && p.ID == id {
		return p
	}
	return nil
}

// Linked lists the people of more than one account, by id.
func (m *Mapping) Linked() []*Person {
	if m == nil {
		return nil
	}
	return m.linked
}
