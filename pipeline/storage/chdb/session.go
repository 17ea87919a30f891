package chdb

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unsafe"
)

// The engine keeps settings and the current database in the connection's session, but a
// Statement's Settings and Database are meant for that statement alone. prepareSession makes the
// session match the statement before it runs: it sets what the statement asks for and puts back
// what an earlier statement changed, issuing at most one SET and one USE.

var settingNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// prepareSession brings the session to st's settings and database. The caller holds the lock.
func (c *Conn) prepareSession(conn unsafe.Pointer, st Statement) error {
	var assign []string
	var changed []string
	for k, v := range st.Settings {
		if !settingNameRe.MatchString(k) {
			return &Error{Code: codeUnknownSetting, Message: fmt.Sprintf("Code: %d. DB::Exception: Invalid setting name %q. (UNKNOWN_SETTING)", codeUnknownSetting, k)}
		}
		cur, ok := c.applied[k]
		if ok && cur == v || !ok && c.settings[k] == v && v != "" {
			continue // already in effect
		}
		assign = append(assign, k+" = "+quoteString(v))
		changed = append(changed, k)
	}
	for k := range c.applied {
		if _, ok := st.Settings[k]; !ok {
			assign = append(assign, k+" = "+c.baseline(k))
			changed = append(changed, k)
		}
	}
	if len(assign) > 0 {
		sort.Strings(assign) // deterministic statements are easier to read in logs
		if _, err := c.exec(conn, "SET "+strings.Join(assign, ", "), "TabSeparated", nil); err != nil {
			c.resetSettings(conn, changed)
			return err
		}
		for _, k := range changed {
			if v, ok := st.Settings[k]; ok {
				if c.applied == nil {
					c.applied = make(map[string]string)
				}
				c.applied[k] = v
			} else {
				delete(c.applied, k)
			}
		}
	}

	db := st.Database
	if db == "" {
		db = "default"
	}
	if db != c.database {
		if _, err := c.exec(conn, "USE "+quoteIdent(db), "TabSeparated", nil); err != nil {
			return err
		}
		c.database = db
	}
	return nil
}

// resetSettings puts back every setting a failed SET may have changed, one by one so that an
// unknown name among them does not stop the others.
func (c *Conn) resetSettings(conn unsafe.Pointer, names []string) {
	for k := range c.applied {
		names = append(names, k)
	}
	for _, k := range names {
		_, _ = c.exec(conn, "SET "+k+" = "+c.baseline(k), "TabSeparated", nil)
	}
	c.applied = nil
}

// baseline returns the SQL value that restores setting k to what the connection started with.
func (c *Conn) baseline(k string) string {
	if v, ok := c.settings[k]; ok {
		return quoteString(v)
	}
	return "DEFAULT"
}

// quoteString returns s as a ClickHouse string literal.
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// quoteIdent returns s as a ClickHouse quoted identifier.
func quoteIdent(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`")
	return "`" + r.Replace(s) + "`"
}

const codeUnknownSetting = 115
