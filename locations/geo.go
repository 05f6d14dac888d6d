package locations

import (
	"math"
	"slices"

	"github.com/minishop/minishop/commerce"
)

// The index: geohash cells. A location's index key starts with the
// geohash of its point at cellPrecision characters (about 153 m × 153 m),
// so the entries of any coarser cell are one key range. The geohash
// alphabet is in ASCII order, so bytewise key order is the cells' Z-order
// and neighbouring cells of one run of codes are one range read.
const (
	cellPrecision = 7
	cellBits      = 5 * cellPrecision
	lonBits       = (cellBits + 1) / 2 // 18
	latBits       = cellBits / 2       // 17
	// maxCells is how many cells a query covers at most: the finest
	// precision whose cells over the circle's bounding box are no more
	// is read.
	maxCells = 48
)

const base32 = "0123456789bcdefghjkmnpqrstuvwxyz"

// cellIndex returns the point's column and row at the full precision.
func cellIndex(lat, lon float64) (col, row uint64) {
	c := math.Floor((lon + 180) / 360 * (1 << lonBits))
	r := math.Floor((lat + 90) / 180 * (1 << latBits))
	return uint64(min(max(c, 0), 1<<lonBits-1)), uint64(min(max(r, 0), 1<<latBits-1))
}

// interleave makes the geohash code of the column and row of a cell of
// bits bits (lon bits first, from the most significant).
func interleave(col, row uint64, bits int) uint64 {
	nLon, nLat := (bits+1)/2, bits/2
	var code uint64
	for i := range bits {
		code <<= 1
		if i%2 == 0 {
			nLon--
			code |= col >> nLon & 1
		} else {
			nLat--
			code |= row >> nLat & 1
		}
	}
	return code
}

func encode(code uint64, precision int) string {
	b := make([]byte, precision)
	for i := precision - 1; i >= 0; i-- {
		b[i] = base32[code&31]
		code >>= 5
	}
	return string(b)
}

// cellOf returns the geohash of p at cellPrecision.
func cellOf(p commerce.GeoPoint) string {
	col, row := cellIndex(p.Latitude, p.Longitude)
	return encode(interleave(col, row, cellBits), cellPrecision)
}

// keyRange is a range of index keys [from, to) below a kind's prefix.
type keyRange struct{ from, to string }

// cover returns the ranges of cell codes that together hold every point
// within radius meters of c, and the geohash precision it chose.
//
// The circle's bounding box is exact on the sphere: the latitude span is
// radius/R either side, the longitude span asin(sin(radius/R)/cos φ).
// A circle that reaches a pole covers every longitude from that pole's
// side; one that crosses the antimeridian is split into its two sides.
func cover(c commerce.GeoPoint, radius float64) ([]keyRange, int) {
	const deg = 180 / math.Pi
	const eps = 1e-9 // degrees (0.1 mm): a point on the edge stays inside
	dLat := radius / commerce.EarthRadius * deg
	minLat, maxLat := c.Latitude-dLat-eps, c.Latitude+dLat+eps
	type lonSpan struct{ lo, hi float64 }
	var lons []lonSpan
	if maxLat >= 90 || minLat <= -90 {
		lons = []lonSpan{{-180, 180}}
	} else {
		dLon := math.Asin(math.Sin(radius/commerce.EarthRadius)/math.Cos(c.Latitude/deg))*deg + eps
		lo, hi := c.Longitude-dLon, c.Longitude+dLon
		switch {
		case dLon >= 180 || math.IsNaN(dLon):
			lons = []lonSpan{{-180, 180}}
		case lo < -180:
			lons = []lonSpan{{lo + 360, 180}, {-180, hi}}
		case hi > 180:
			lons = []lonSpan{{lo, 180}, {-180, hi - 360}}
		default:
			lons = []lonSpan{{lo, hi}}
		}
	}
	minLat, maxLat = max(minLat, -90), min(maxLat, 90)
	_, r0 := cellIndex(minLat, 0)
	_, r1 := cellIndex(maxLat, 0)
	type box struct{ c0, c1 uint64 }
	boxes := make([]box, len(lons))
	for i, s := range lons {
		boxes[i].c0, _ = cellIndex(0, s.lo)
		boxes[i].c1, _ = cellIndex(0, s.hi)
	}
	for p := cellPrecision; ; p-- {
		shiftLon, shiftLat := uint(lonBits-(5*p+1)/2), uint(latBits-5*p/2)
		rows := r1>>shiftLat - r0>>shiftLat + 1
		var n uint64
		for _, b := range boxes {
			n += (b.c1>>shiftLon - b.c0>>shiftLon + 1) * rows
		}
		if n > maxCells && p > 1 {
			continue
		}
		var codes []uint64
		for _, b := range boxes {
			for col := b.c0 >> shiftLon; col <= b.c1>>shiftLon; col++ {
				for row := r0 >> shiftLat; row <= r1>>shiftLat; row++ {
					codes = append(codes, interleave(col, row, 5*p))
				}
			}
		}
		slices.Sort(codes)
		codes = slices.Compact(codes)
		var out []keyRange
		last := uint64(1)<<(5*p) - 1
		for i := 0; i < len(codes); {
			j := i
			for j+1 < len(codes) && codes[j+1] == codes[j]+1 {
				j++
			}
			to := "~" // after every code
			if codes[j] < last {
				to = encode(codes[j]+1, p)
			}
			out = append(out, keyRange{encode(codes[i], p), to})
			i = j + 1
		}
		return out, p
	}
}
