package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// Markers around the generated driver options block of configs/example.yaml.
const (
	OptionsDocBegin = "# --- driver options: generated from the driver registry (go test ./gateway/config -run TestExampleOptions -update) ---"
	OptionsDocEnd   = "# --- end of driver options ---"
)

// FieldDoc returns the documentation of the field of struct type t whose YAML key is key, "" for none.
type FieldDoc func(t reflect.Type, key string) string

// OptionsDoc documents every driver's options with their defaults as YAML comments, each key headed
// by its field's documentation (doc). configs/example.yaml carries it between OptionsDocBegin and
// OptionsDocEnd, and a test, which reads the drivers' Go doc comments, keeps the two equal.
func OptionsDoc(doc FieldDoc) (string, error) {
	var b strings.Builder
	b.WriteString(OptionsDocBegin + "\n")
	b.WriteString("# sensors[].options by driver, with their defaults: give only what differs. `waysided -check-config`\n")
	b.WriteString("# prints each sensor's effective options.\n")
	for _, d := range registry.All() {
		fmt.Fprintf(&b, "#\n# %s: %s.\n", d.Name, d.Part)
		if d.NewOptions == nil {
			b.WriteString("#   (no options)\n")
			continue
		}
		text, err := optionsYAML(d.NewOptions(), doc)
		if err != nil {
			return "", fmt.Errorf("config: document %s options: %w", d.Name, err)
		}
		b.WriteString("#   options:\n")
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			b.WriteString(strings.TrimRight("#     "+line, " ") + "\n")
		}
	}
	b.WriteString(OptionsDocEnd + "\n")
	return b.String(), nil
}

// OptionsText is o as one line of flow-style YAML, for -check-config.
func OptionsText(o sensor.Options) (string, error) {
	var n yaml.Node
	if err := n.Encode(o); err != nil {
		return "", err
	}
	flow(&n)
	out, err := yaml.Marshal(&n)
	return strings.TrimSpace(string(out)), err
}

func flow(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	for _, c := range n.Content {
		flow(c)
	}
}

// optionsYAML encodes o in block style, each key headed by its field's documentation.
func optionsYAML(o sensor.Options, doc FieldDoc) (string, error) {
	var n yaml.Node
	if err := n.Encode(o); err != nil {
		return "", err
	}
	if doc != nil {
		annotate(&n, reflect.TypeOf(o), doc)
	}
	out, err := yaml.Marshal(&n)
	return string(out), err
}

// annotate puts each mapping key's documentation in its head comment.
func annotate(n *yaml.Node, t reflect.Type, doc FieldDoc) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return
	}
	types := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		types[name] = f.Type
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		k.HeadComment = doc(t, k.Value)
		if ft, ok := types[k.Value]; ok {
			annotate(n.Content[i+1], ft, doc)
		}
	}
}
