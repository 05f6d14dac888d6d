package minishop_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the house a house: domain packages never import a
// store implementation, and the kernel never imports the packages built on
// it. Dependencies point down (see ARCHITECTURE.md).
func TestLayering(t *testing.T) {
	const mod = "github.com/minishop/minishop/"
	domain := []string{"commerce", "coupons", "membership", "gifting", "promoter", "payment", "campaigns", "storedvalue", "locations"}
	forbidden := map[string][]string{
		"storage":     append([]string{"storage/"}, domain...),
		"commerce":    {"storage/", "coupons", "membership", "gifting", "promoter", "payment", "campaigns", "examples", "locations"},
		"coupons":     {"storage/", "membership", "gifting", "promoter", "campaigns"},
		"membership":  {"storage/", "coupons", "gifting", "promoter", "campaigns"},
		"payment":     {"storage/", "coupons", "membership", "gifting", "promoter", "campaigns"},
		"gifting":     {"storage/", "coupons", "membership", "promoter", "campaigns"},
		"promoter":    {"storage/", "membership", "gifting", "campaigns"},
		"campaigns":   {"storage/", "membership", "gifting", "wechat"},
		"wechat":      {"storage/", "coupons", "membership", "gifting", "promoter", "payment", "campaigns"},
		"storedvalue": {"storage/", "coupons", "membership", "gifting", "promoter", "payment", "campaigns", "wechat"},
		"locations":   {"storage/", "coupons", "membership", "gifting", "promoter", "payment", "campaigns", "wechat", "storedvalue"},
		// The Engine never serves HTTP itself; the APIs sit above it and
		// work over any store.
		".":       {"httpapi"},
		"httpapi": {"storage/"},
	}
	checked := 0
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "directory not found") || strings.Contains(string(out), "cannot find") || strings.Contains(string(out), "no Go files") {
				continue // the package does not exist yet
			}
			t.Fatalf("go list -deps ./%s: %v\n%s", pkg, err, out)
		}
		checked++
		for _, dep := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(dep, mod)
			if !ok || rel == pkg || strings.HasPrefix(rel, pkg+"/") {
				continue
			}
			for _, b := range bad {
				// "storage/" forbids the store implementations under storage;
				// "payment" forbids payment and everything under it.
				if rel == b || strings.HasPrefix(rel, strings.TrimSuffix(b, "/")+"/") {
					t.Errorf("%s imports %s", pkg, rel)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package checked")
	}
}
