// Package locations keeps a merchant's physical stores, its shops with a
// door, and finds them near a point.
//
// A Location has a name, an address, a point (commerce.GeoPoint, WGS-84),
// an IANA time zone, weekly hours, dated exceptions, a phone and
// pictures. Every rule is checked on Create and Update, and a refusal is a
// KindInvalid *commerce.Error naming the field ("point.latitude",
// "hours[2]", "exceptions[0].date", "time_zone").
//
// Hours. Hours are commerce.OpeningPeriod values: a weekday and "HH:MM"
// open and close times, wall-clock in the location's zone. A day may have
// several periods. A period whose close is not after its open (Friday
// 22:00–02:00) runs past midnight: it is open at Saturday 01:00. Close may
// be "24:00"; 00:00–24:00 is all day. Two periods that overlap, an
// overnight period reaching into the next day's first one included
// (Saturday into Sunday too), are refused.
//
// Exceptions. An Exception replaces the hours of a date: closed all day,
// or its own periods. It governs the periods that begin on its date: an
// overnight period of the day before still ends as scheduled (Friday
// 22:00–02:00 before a Saturday holiday is open until 02:00 Saturday), and
// the exception's own overnight period runs into the next day.
//
// Status and OpenAt compute on wall-clock times in the location's zone,
// so 09:00–21:00 in Europe/London is 09:00 to 21:00 local time on summer
// time's first and last days too; the same instant is open in
// Asia/Hong_Kong and closed in America/Los_Angeles. The zone database is
// compiled in (time/tzdata), so a host without one reads every zone.
//
// Nearby finds the active locations within a radius (more than 0, at
// most 1,000 km) of a point, of one merchant or of all, nearest first with
// their distances, ties by ID; a location exactly on the radius is found.
// Distances are great-circle: the haversine formula on a sphere of the
// mean Earth radius, 6,371,008.8 m (within about 0.5 % of the ellipsoid).
//
// The index. Every location has, besides its record, one small entry in a
// global index and one in its merchant's, written in its transaction: the
// key starts with the geohash of its point at 7 characters (cells of about
// 153 m × 153 m), then the location's ID, and the entry holds the point. A
// query covers the circle's bounding box with cells of the finest
// precision that needs at most 48 of them; the geohash alphabet is in
// ASCII order, so a cell's entries, and a run of cells neighbouring in the
// Z-order, are one key range (storage.Records' RecordsBetween). It keeps
// the entries within the radius, sorts them, and reads the nearest
// locations until it has the limit (those open at OpenAt, when given). The
// box is exact on the sphere; a circle over the antimeridian is read on
// both sides, one over a pole at every longitude. The records read are
// thus the entries in the covering cells, a few times those in the circle,
// plus the locations returned (one read each). Every entry within the
// radius is read even when the limit is smaller: a wide radius in a dense
// city reads many (5 km over 90,000 locations in a Shanghai-sized area:
// about 9,500 entries, see storetest.BenchNearby); one merchant's
// query reads its own index only.
//
// Records are never deleted: when a location moves to another cell or is
// deactivated, its old entries are kept marked gone (and revived if it
// comes back), and queries skip them.
//
// Updates are compare-and-swap: of two concurrent Updates of a location
// each keeps the other's change or is re-run on it, and the index follows
// the winner, in the same transaction. Everything lives in storage.Records,
// so every store minishop ships runs the package with no table of its own.
package locations

import (
	// The zone database compiled in: a host without the system's
	// zoneinfo (a scratch container) still reads every location's hours.
	_ "time/tzdata"
)
