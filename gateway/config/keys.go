package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func typeOf(v any) reflect.Type { return reflect.TypeOf(v) }

func sortStrings(s []string) { sort.Strings(s) }

// yamlKeys maps a struct type's YAML keys to their field types.
func yamlKeys(t reflect.Type) map[string]reflect.Type {
	keys := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys[name] = f.Type
	}
	return keys
}

// checkKeys walks node against type t and reports every mapping key t does not have, with its path and
// the keys that would be valid there. yaml.v3's KnownFields reports only the first, without the path.
func checkKeys(n *yaml.Node, t reflect.Type, path string, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(yaml.Node{}) {
		return // a driver's options: checked against the driver's own type (checkOptions)
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		keys := yamlKeys(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ft, ok := keys[k.Value]
			if !ok {
				valid := make([]string, 0, len(keys))
				for name := range keys {
					valid = append(valid, name)
				}
				sort.Strings(valid)
				*errs = append(*errs, &Error{Path: p, Line: k.Line,
					Msg: fmt.Sprintf("unknown key; valid keys here: %s", strings.Join(valid, ", "))})
				continue
			}
			checkKeys(v, ft, p, errs)
		}
	case t.Kind() == reflect.Struct && n.Kind != yaml.MappingNode && n.Tag != "!!null":
		*errs = append(*errs, &Error{Path: path, Line: n.Line, Msg: "want a mapping of keys to values"})
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case t.Kind() == reflect.Slice && n.Kind != yaml.SequenceNode && n.Tag != "!!null":
		*errs = append(*errs, &Error{Path: path, Line: n.Line, Msg: "want a list"})
	case n.Kind == yaml.ScalarNode && t.Kind() != reflect.Struct && t.Kind() != reflect.Slice:
		// Decode the leaf alone so a bad value is reported with its path, not just a line number.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "yaml: ") {
				msg = msg[i+2:]
			}
			if t != reflect.TypeOf(Duration(0)) { // Duration's own message says what it wants
				msg = fmt.Sprintf("%s (want %s)", msg, kindName(t))
			}
			*errs = append(*errs, &Error{Path: path, Line: n.Line, Msg: msg})
		}
	}
}

// kindName describes what a field of type t accepts.
func kindName(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "a duration such as 125ms, 30s or 5m"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return fmt.Sprintf("an integer that fits %s", t.Kind())
	}
	return t.String()
}

// setKeys records the path of every key the file gives a value ("buffer.capacity", "sensors[0].address"),
// so that defaults fill only the keys left out: an explicit 0 is the user's value and is checked like
// any other. A key whose value is null (`capacity:` or `capacity: ~`) counts as left out.
func setKeys(n *yaml.Node, path string, set map[string]bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			setKeys(c, path, set)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if v.Tag == "!!null" {
				continue
			}
			set[p] = true
			setKeys(v, p, set)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			setKeys(c, fmt.Sprintf("%s[%d]", path, i), set)
		}
	}
}
