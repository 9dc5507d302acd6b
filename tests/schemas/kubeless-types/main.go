// Command kubeless-types prints JSON schemas for the Kubeless v1.0.8 custom resources.
//
// Kubeless defines its CRDs without any openAPIV3Schema, so the API server accepts any
// field and the controllers decode the objects into these Go types, silently dropping
// whatever the types lack. A schema reflected from the same types, with no extra fields
// allowed, catches exactly what the controllers would drop.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	cronjob "github.com/kubeless/cronjob-trigger/pkg/apis/kubeless/v1beta1"
	http "github.com/kubeless/http-trigger/pkg/apis/kubeless/v1beta1"
	kubeless "github.com/kubeless/kubeless/pkg/apis/kubeless/v1beta1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type schema = map[string]any

// Types whose JSON form is not their Go structure (they marshal themselves).
var custom = map[reflect.Type]schema{
	reflect.TypeOf(metav1.Time{}):        {"type": []string{"string", "null"}},
	reflect.TypeOf(metav1.MicroTime{}):   {"type": []string{"string", "null"}},
	reflect.TypeOf(resource.Quantity{}):  {"type": []string{"string", "number"}},
	reflect.TypeOf(intstr.IntOrString{}): {"type": []string{"string", "integer"}},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kubeless-types OUTPUT_DIR")
		os.Exit(2)
	}
	// File names follow kubeconform's {kind}-{group}-{version}.json.
	resources := map[string]any{
		"function-kubeless-v1beta1.json":       kubeless.Function{},
		"httptrigger-kubeless-v1beta1.json":    http.HTTPTrigger{},
		"cronjobtrigger-kubeless-v1beta1.json": cronjob.CronJobTrigger{},
	}
	for name, value := range resources {
		r := reflector{definitions: schema{}}
		s := r.object(reflect.TypeOf(value))
		s["$schema"] = "http://json-schema.org/draft-07/schema#"
		s["definitions"] = r.definitions
		out, err := json.MarshalIndent(s, "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(os.Args[1], name), append(out, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// reflector collects each named struct type once, under definitions, so that types used
// in many places (Container, Volume, ...) and recursive ones are written once.
type reflector struct {
	definitions schema
}

// of returns the schema of t: a $ref for named structs, the schema itself otherwise.
func (r *reflector) of(t reflect.Type) schema {
	if s, ok := custom[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schema{"anyOf": []schema{r.of(t.Elem()), {"type": "null"}}}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return schema{"type": "number"}
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Interface:
		return schema{}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return schema{"type": "string"} // []byte is base64 text
		}
		return schema{"type": []string{"array", "null"}, "items": r.of(t.Elem())}
	case reflect.Map:
		return schema{"type": []string{"object", "null"}, "additionalProperties": r.of(t.Elem())}
	case reflect.Struct:
		name := strings.ReplaceAll(t.PkgPath(), "/", ".") + "." + t.Name()
		if _, done := r.definitions[name]; !done {
			r.definitions[name] = schema{} // placeholder, for recursive types
			r.definitions[name] = r.object(t)
		}
		return schema{"$ref": "#/definitions/" + name}
	}
	panic("no schema for " + t.String())
}

// object is the schema of struct t: its JSON fields and nothing else.
func (r *reflector) object(t reflect.Type) schema {
	props := schema{}
	r.fields(t, props)
	return schema{"type": "object", "properties": props, "additionalProperties": false}
}

// fields adds t's JSON fields to props, flattening embedded and inline structs as
// encoding/json does.
func (r *reflector) fields(t reflect.Type, props schema) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			r.fields(f.Type, props)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = r.of(f.Type)
	}
}
