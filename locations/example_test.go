package locations_test

import (
	"context"
	"fmt"
	"time"

	"github.com/minishop/minishop/commerce"
	"github.com/minishop/minishop/locations"
	"github.com/minishop/minishop/storage/memory"
)

// A tea brand with a shop in Shanghai open late and one in Hong Kong; a
// customer at People's Square looks for the nearest one open now.
func Example() {
	ctx := context.Background()
	svc, err := locations.New(locations.Config{Store: memory.New()})
	if err != nil {
		panic(err)
	}
	brand, _ := commerce.ParseID[commerce.MerchantID]("0190a000-0000-7000-8000-000000000001")
	every := func(open, close string) []commerce.OpeningPeriod {
		var h []commerce.OpeningPeriod
		for d := time.Sunday; d <= time.Saturday; d++ {
			h = append(h, commerce.OpeningPeriod{Day: d, Open: open, Close: close})
		}
		return h
	}
	for _, p := range []locations.LocationParams{
		{MerchantID: brand, Name: "Nanjing Road", Point: commerce.GeoPoint{Latitude: 31.2355, Longitude: 121.4750},
			TimeZone: "Asia/Shanghai", Hours: every("10:00", "22:00")},
		{MerchantID: brand, Name: "Lujiazui (late)", Point: commerce.GeoPoint{Latitude: 31.2397, Longitude: 121.4998},
			TimeZone: "Asia/Shanghai", Hours: every("18:00", "02:00")},
		{MerchantID: brand, Name: "Central", Point: commerce.GeoPoint{Latitude: 22.2819, Longitude: 114.1582},
			TimeZone: "Asia/Hong_Kong", Hours: every("08:00", "20:00")},
	} {
		if _, err := svc.Create(ctx, p); err != nil {
			panic(err)
		}
	}
	// 23:30 in Shanghai (15:30 UTC).
	now := time.Date(2026, 1, 5, 15, 30, 0, 0, time.UTC)
	near, err := svc.Nearby(ctx, locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737},
		RadiusMeters: 5000, Merchant: brand})
	if err != nil {
		panic(err)
	}
	for _, n := range near {
		open, next := n.Location.Status(now)
		zone, _ := time.LoadLocation(n.Location.TimeZone)
		state := map[bool]string{true: "open until", false: "closed, opens at"}[open]
		fmt.Printf("%s: %.0f m, %s %s\n", n.Location.Name, n.DistanceMeters, state, next.In(zone).Format("15:04"))
	}
	open, _ := svc.Nearby(ctx, locations.NearbyQuery{Point: commerce.GeoPoint{Latitude: 31.2304, Longitude: 121.4737},
		RadiusMeters: 5000, OpenAt: now})
	fmt.Println("open now:", open[0].Location.Name)
	// Output:
	// Nanjing Road: 580 m, closed, opens at 10:00
	// Lujiazui (late): 2688 m, open until 02:00
	// open now: Lujiazui (late)
}
