// Command locations tells the story of a tea brand's shops with a door:
// two in Shanghai, one open late into the night, and one in Hong Kong,
// each with its own hours in its own zone, a holiday closing one of
// them, and a customer at People's Square asking which are near and open.
//
// The locations live in the Engine's store (memory here); the story runs
// at a fixed instant so it reads the same every time.
//
//	go run ./examples/locations
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/minishop/minishop"
	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/commerce/commercetest"
	"github.com/minishop/minishop/locations"
	"github.com/minishop/minishop/storage/memory"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "locations:", err)
		os.Exit(1)
	}
}

func daily(open, close string) []commerce.OpeningPeriod {
	var h []commerce.OpeningPeriod
	for d := time.Sunday; d <= time.Saturday; d++ {
		h = append(h, commerce.OpeningPeriod{Day: d, Open: open, Close: close})
	}
	return h
}

func run(ctx context.Context, out io.Writer) error {
	// Friday 2026-01-09, 23:30 in Shanghai and Hong Kong (15:30 UTC).
	now := time.Date(2026, 1, 9, 15, 30, 0, 0, time.UTC)
	engine, err := minishop.New(memory.New(), minishop.WithClock(commercetest.NewClock(now)))
	if err != nil {
		return err
	}
	m, err := engine.Commerce.CreateMerchant(ctx, commerce.MerchantParams{Currency: "CNY", Profile: commerce.ShopProfile{Name: "一叶茶社"}})
	if err != nil {
		return err
	}
	late := daily("11:00", "22:00")
	late[time.Friday] = commerce.OpeningPeriod{Day: time.Friday, Open: "18:00", Close: "02:00"} // Friday night late
	late[time.Saturday] = commerce.OpeningPeriod{Day: time.Saturday, Open: "18:00", Close: "02:00"}
	shops := []locations.LocationParams{
		{Name: "Nanjing Road", Address: locations.Address{Text: "上海市黄浦区南京东路 100 号", City: "上海", Country: "CN"},
			Point: commerce.GeoPoint{Latitude: 31.2355, Longitude: 121.4750}, TimeZone: "Asia/Shanghai", Hours: daily("10:00", "22:00"),
			Phone: "+86 21 5555 0101"},
		{Name: "Lujiazui Night", Address: locations.Address{Text: "上海市浦东新区陆家嘴环路 1 号", City: "上海", Country: "CN"},
			Point: commerce.GeoPoint{Latitude: 31.2397, Longitude: 121.4998}, TimeZone: "Asia/Shanghai", Hours: late,
			Phone: "+86 21 5555 0102"},
		{Name: "Central", Address: locations.Address{Text: "香港中環皇后大道中 1 號", City: "Hong Kong", Country: "HK"},
			Point: commerce.GeoPoint{Latitude: 22.2819, Longitude: 114.1582}, TimeZone: "Asia/Hong_Kong", Hours: daily("08:00", "20:00"),
			Exceptions: []locations.Exception{{Date: "2026-01-10", Closed: true, Note: "stocktaking"}}, Phone: "+852 5555 0103"},
	}
	for _, p := range shops {
		p.MerchantID = m.ID
		if _, err := engine.Locations.Create(ctx, p); err != nil {
			return err
		}
	}
	all, err := engine.Locations.List(ctx, m.ID, locations.LocationID{}, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s has %d shops with a door. At %s:\n", m.Profile.Name, len(all), now.Format("2006-01-02 15:04 UTC"))
	for _, l := range all {
		zone, _ := time.LoadLocation(l.TimeZone)
		open, next := l.Status(now)
		state := "closed, opens"
		if open {
			state = "open, closes"
		}
		fmt.Fprintf(out, "  %-15s %s local %s: %s %s\n", l.Name, l.TimeZone, now.In(zone).Format("Mon 15:04"), state, next.In(zone).Format("Mon 15:04"))
	}

	// A customer at People's Square.
	me := commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737}
	near, err := engine.Locations.Nearby(ctx, locations.NearbyQuery{Point: me, RadiusMeters: 5000, Merchant: m.ID})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Within 5 km of People's Square:")
	for _, n := range near {
		fmt.Fprintf(out, "  %-15s %.1f km\n", n.Location.Name, n.DistanceMeters/1000)
	}
	open, err := engine.Locations.Nearby(ctx, locations.NearbyQuery{Point: me, RadiusMeters: 5000, Merchant: m.ID, OpenAt: now})
	if err != nil {
		return err
	}
	for _, n := range open {
		fmt.Fprintf(out, "Open now: %s, %.1f km away, %s\n", n.Location.Name, n.DistanceMeters/1000, n.Location.Phone)
	}
	hk, err := engine.Locations.Nearby(ctx, locations.NearbyQuery{Point: me, RadiusMeters: locations.MaxRadius, Merchant: m.ID})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Within 1,000 km: %d (Hong Kong is %.0f km away)\n", len(hk), me.DistanceTo(shops[2].Point)/1000)

	// Tomorrow the Hong Kong shop is closed for stocktaking.
	tomorrow := now.Add(20 * time.Hour) // Saturday 19:30 local
	for _, l := range all {
		if l.Name == "Central" {
			fmt.Fprintf(out, "Saturday 19:30 in Hong Kong, Central is open: %v\n", l.OpenAt(tomorrow))
		}
	}
	return nil
}
