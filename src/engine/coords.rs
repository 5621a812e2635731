//! Coordinate systems. Phones report WGS-84; fences drawn on Chinese map
//! providers are GCJ-02 (Amap, Tencent) or BD-09 (Baidu), which differ by
//! 300–500 m. Everything is converted to WGS-84 before any check, with the
//! `coordtransform` crate (its refined numerical inverse for GCJ-02 → WGS-84;
//! outside mainland China the systems coincide and nothing moves).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoordinateSystem {
    #[default]
    Wgs84,
    Gcj02,
    Bd09,
}

impl CoordinateSystem {
    pub fn parse(s: &str) -> Option<Self> {
        Some(
            match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
                "wgs84" => CoordinateSystem::Wgs84,
                "gcj02" => CoordinateSystem::Gcj02,
                "bd09" => CoordinateSystem::Bd09,
                _ => return None,
            },
        )
    }

    /// Converts `(lon, lat)` in this system to WGS-84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            CoordinateSystem::Wgs84 => (lon, lat),
            CoordinateSystem::Gcj02 => coordtransform::gcj02_to_wgs84(lon, lat),
            CoordinateSystem::Bd09 => coordtransform::bd09_to_wgs84(lon, lat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine, Point};

    /// Published pairs (the widely used coordtransform reference values for
    /// Tiananmen, 116.404 E 39.915 N).
    #[test]
    fn converts_published_values_back_to_wgs84() {
        let wgs = (116.404, 39.915);
        let gcj = (116.41024449916938, 39.91640428150164);
        let back = CoordinateSystem::Gcj02.to_wgs84(gcj.0, gcj.1);
        let error_m = Haversine.distance(Point::from(back), Point::from(wgs));
        assert!(error_m < 0.01, "GCJ-02 inverse off by {error_m} m");

        let bd = coordtransform::wgs84_to_bd09(wgs.0, wgs.1);
        let back = CoordinateSystem::Bd09.to_wgs84(bd.0, bd.1);
        assert!(Haversine.distance(Point::from(back), Point::from(wgs)) < 0.01);
        // And the shift really is hundreds of metres.
        assert!(Haversine.distance(Point::from(gcj), Point::from(wgs)) > 300.0);
    }

    #[test]
    fn outside_china_nothing_moves() {
        assert_eq!(
            CoordinateSystem::Gcj02.to_wgs84(26.95, 60.52),
            (26.95, 60.52)
        );
    }

    #[test]
    fn names_parse_loosely() {
        for (s, c) in [
            ("WGS-84", CoordinateSystem::Wgs84),
            ("gcj02", CoordinateSystem::Gcj02),
            ("BD_09", CoordinateSystem::Bd09),
        ] {
            assert_eq!(CoordinateSystem::parse(s), Some(c));
        }
        assert_eq!(CoordinateSystem::parse("utm"), None);
    }
}
