package config

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite configs/example.yaml's driver options block")

// TestExampleOptions: configs/example.yaml documents every driver's options with the registry's
// defaults, so neither can drift from the other (-update rewrites the block).
func TestExampleOptions(t *testing.T) {
	const path = "../../configs/example.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := OptionsDoc(goFieldDocs(t))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, OptionsDocBegin), strings.Index(text, OptionsDocEnd)
	if i < 0 || j < i {
		if !*update {
			t.Fatalf("%s has no driver options block (markers %q ... %q): run go test ./gateway/config -run TestExampleOptions -update", path, OptionsDocBegin, OptionsDocEnd)
		}
		text += "\n" + want
	} else {
		got := text[i : j+len(OptionsDocEnd)+1]
		if got == want {
			return
		}
		if !*update {
			t.Fatalf("%s's driver options block is not the registry's: run go test ./gateway/config -run TestExampleOptions -update\n--- want\n%s", path, want)
		}
		text = text[:i] + want + text[j+len(OptionsDocEnd)+1:]
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %s", path)
}

// goFieldDocs reads the drivers' Go sources for the doc comment of each options field: the
// documentation in example.yaml is the drivers' own.
func goFieldDocs(t *testing.T) FieldDoc {
	const module = "github.com/wayside-iot/wayside/"
	cache := map[string]map[string]string{} // "pkgpath.Type.yamlkey" -> doc, per package
	return func(typ reflect.Type, key string) string {
		pkg := typ.PkgPath()
		docs, ok := cache[pkg]
		if !ok {
			docs = map[string]string{}
			cache[pkg] = docs
			dir := filepath.Join("../..", strings.TrimPrefix(pkg, module))
			pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi os.FileInfo) bool {
				return !strings.HasSuffix(fi.Name(), "_test.go")
			}, parser.ParseComments)
			if err != nil {
				t.Fatalf("read %s: %v", dir, err)
			}
			for _, p := range pkgs {
				for _, f := range p.Files {
					ast.Inspect(f, func(n ast.Node) bool {
						ts, ok := n.(*ast.TypeSpec)
						if !ok {
							return true
						}
						st, ok := ts.Type.(*ast.StructType)
						if !ok {
							return true
						}
						for _, fld := range st.Fields.List {
							if fld.Tag == nil || fld.Doc == nil {
								continue
							}
							tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`"))
							name, _, _ := strings.Cut(tag.Get("yaml"), ",")
							if name != "" && name != "-" {
								docs[ts.Name.Name+"."+name] = strings.TrimSpace(fld.Doc.Text())
							}
						}
						return true
					})
				}
			}
		}
		return docs[typ.Name()+"."+key]
	}
}
