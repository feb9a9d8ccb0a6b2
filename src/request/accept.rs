//! Reading the `Accept` header for `fmt=auto`: only explicit `image/avif` and `image/webp`
//! count (wildcards do not, since browsers send `*/*` while not decoding every format).

/// The modern formats a client declared it accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    pub avif: bool,
    pub webp: bool,
}

impl Accepted {
    pub fn from_header(accept: Option<&str>) -> Self {
        let mut accepted = Accepted::default();
        for item in accept.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match media.as_str() {
                "image/avif" => accepted.avif = true,
                "image/webp" => accepted.webp = true,
                _ => {}
            }
        }
        accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_types_only() {
        let chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(
            Accepted::from_header(Some(chrome)),
            Accepted {
                avif: true,
                webp: true
            }
        );
        assert_eq!(
            Accepted::from_header(Some("image/webp,*/*")),
            Accepted {
                avif: false,
                webp: true
            }
        );
        assert_eq!(Accepted::from_header(Some("*/*")), Accepted::default());
        assert_eq!(Accepted::from_header(Some("image/*")), Accepted::default());
        assert_eq!(
            Accepted::from_header(Some("image/avif;q=0, image/webp")),
            Accepted {
                avif: false,
                webp: true
            }
        );
        assert_eq!(Accepted::from_header(None), Accepted::default());
    }
}
