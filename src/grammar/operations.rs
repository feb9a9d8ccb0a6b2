//! The values of the operation parameters (`crop`, `fp`, `trim`, `rot`, `flip`, `blur`,
//! `sharpen`, `pad`): each parsed strictly, with a message that names the parameter and says
//! what it takes. Numbers are read digit by digit (no `f64` parsing of client text), so `1e3`,
//! `nan`, `+1` and `0x10` are all refused and equal values have one spelling once parsed.

use crate::pipeline::{Crop, Flip, Focus, Padding, Rotation, Sigma, MILLION};

use super::RequestError;

/// Largest padding on one side, in pixels.
pub const MAX_PAD: u32 = 1000;

fn invalid(message: &str) -> RequestError {
    RequestError::Invalid(message.to_string())
}

/// A whole number of at most nine digits.
fn whole(text: &str) -> Option<u32> {
    (!text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A decimal with at most `places` digits after the point, scaled by `10^places`.
fn decimal(text: &str, places: u32) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.len() > 6 || frac.len() > places as usize || !digits(int) || !digits(frac) {
        return None;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_value: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10u64.pow(places);
    Some(int * scale + frac_value * 10u64.pow(places - frac.len() as u32))
}

/// A fraction 0-1 in millionths (at most six decimals).
fn fraction(text: &str) -> Option<u32> {
    decimal(text, 6)
        .filter(|&v| v <= u64::from(MILLION))
        .map(|v| v as u32)
}

/// `crop=x,y,w,h`: pixels, or fractions when all four have a decimal point.
pub fn crop(value: &str) -> Result<Crop, RequestError> {
    const USAGE: &str = "crop must be x,y,w,h in whole pixels, or four fractions 0-1 each \
                         written with a decimal point (0.1,0.2,0.5,0.5); w and h above zero";
    let parts: Vec<&str> = value.split(',').collect();
    if parts.len() != 4 {
        return Err(invalid(USAGE));
    }
    let fractions = parts.iter().all(|p| p.contains('.'));
    let number = if fractions { fraction } else { whole };
    let n: Vec<u32> = parts
        .iter()
        .map(|p| number(p))
        .collect::<Option<_>>()
        .ok_or_else(|| invalid(USAGE))?;
    let (x, y, width, height) = (n[0], n[1], n[2], n[3]);
    let crop = if fractions {
        Crop::Fractions {
            x,
            y,
            width,
            height,
        }
    } else {
        Crop::Pixels {
            x,
            y,
            width,
            height,
        }
    };
    if width == 0 || height == 0 {
        return Err(invalid(USAGE));
    }
    Ok(crop)
}

/// `fp=x,y`, fractions 0-1 of the displayed source.
pub fn focus(value: &str) -> Result<Focus, RequestError> {
    const USAGE: &str = "fp must be x,y: two fractions between 0 and 1 (0.25,0.6)";
    let (x, y) = value.split_once(',').ok_or_else(|| invalid(USAGE))?;
    match (fraction(x), fraction(y)) {
        (Some(x), Some(y)) => Ok(Focus { x, y }),
        _ => Err(invalid(USAGE)),
    }
}

/// `trim=N`, a tolerance 1-255.
pub fn trim(value: &str) -> Result<u8, RequestError> {
    whole(value)
        .filter(|t| (1..=255).contains(t))
        .map(|t| t as u8)
        .ok_or_else(|| invalid("trim must be a tolerance between 1 and 255"))
}

/// `rot=0|90|180|270`.
pub fn rotation(value: &str) -> Result<Rotation, RequestError> {
    whole(value)
        .and_then(Rotation::from_degrees)
        .ok_or_else(|| invalid("rot must be 0, 90, 180 or 270"))
}

/// `flip=h|v|hv`.
pub fn flip(value: &str) -> Result<Flip, RequestError> {
    let (horizontal, vertical) = match value {
        "h" => (true, false),
        "v" => (false, true),
        "hv" | "vh" => (true, true),
        _ => return Err(invalid("flip must be h, v or hv")),
    };
    Ok(Flip {
        horizontal,
        vertical,
    })
}

/// A sigma between `min` and `max` pixels (hundredths), for `blur` and `sharpen`.
pub fn sigma(name: &str, value: &str, min: u32, max: u32) -> Result<Sigma, RequestError> {
    let shown = |v: u32| {
        if v % 100 == 0 {
            (v / 100).to_string()
        } else {
            format!("{}", f64::from(v) / 100.0)
        }
    };
    decimal(value, 2)
        .filter(|&v| (u64::from(min)..=u64::from(max)).contains(&v))
        .map(|v| Sigma(v as u32))
        .ok_or_else(|| {
            RequestError::Invalid(format!(
                "{name} must be a sigma between {} and {} (at most two decimals)",
                shown(min),
                shown(max)
            ))
        })
}

/// `pad=N` or `pad=T,R,B,L`, each 0-[`MAX_PAD`] pixels.
pub fn pad(value: &str) -> Result<Padding, RequestError> {
    let usage = || {
        RequestError::Invalid(format!(
            "pad must be N or T,R,B,L: whole pixels between 0 and {MAX_PAD}"
        ))
    };
    let sides: Vec<u32> = value
        .split(',')
        .map(|p| whole(p).filter(|&v| v <= MAX_PAD))
        .collect::<Option<_>>()
        .ok_or_else(usage)?;
    match sides[..] {
        [n] => Ok(Padding::uniform(n)),
        [top, right, bottom, left] => Ok(Padding {
            top,
            right,
            bottom,
            left,
        }),
        _ => Err(usage()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(r: Result<T, RequestError>) -> String {
        match r {
            Err(RequestError::Invalid(m)) => m,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn crops_in_pixels_and_fractions() {
        assert_eq!(
            crop("1,2,3,4").unwrap(),
            Crop::Pixels {
                x: 1,
                y: 2,
                width: 3,
                height: 4
            }
        );
        assert_eq!(
            crop("0.1,0.2,0.5,.5").unwrap(),
            Crop::Fractions {
                x: 100_000,
                y: 200_000,
                width: 500_000,
                height: 500_000
            }
        );
        for bad in [
            "",
            "1,2,3",
            "1,2,3,4,5",
            "1,2,0,4",
            "0.1,2,3,4",
            "1.5,0,0.5,0.5",
            "a,b,c,d",
            "-1,0,1,1",
            "1e3,0,1,1",
        ] {
            assert!(message(crop(bad)).starts_with("crop must be"), "{bad}");
        }
    }

    #[test]
    fn every_value_is_checked_and_named() {
        assert_eq!(
            focus("0.25,1").unwrap(),
            Focus {
                x: 250_000,
                y: 1_000_000
            }
        );
        assert!(message(focus("0.5")).starts_with("fp must be"));
        assert!(message(focus("1.1,0")).starts_with("fp must be"));
        assert_eq!(trim("255").unwrap(), 255);
        assert!(message(trim("0")).starts_with("trim must be"));
        assert!(message(trim("256")).starts_with("trim must be"));
        assert_eq!(rotation("270").unwrap(), Rotation::ThreeQuarters);
        assert!(message(rotation("45")).starts_with("rot must be"));
        assert_eq!(
            flip("hv").unwrap(),
            Flip {
                horizontal: true,
                vertical: true
            }
        );
        assert!(message(flip("x")).starts_with("flip must be"));
        assert_eq!(sigma("blur", "0.3", 30, 10_000).unwrap(), Sigma(30));
        assert_eq!(
            sigma("blur", "2.50", 30, 10_000).unwrap(),
            sigma("blur", "2.5", 30, 10_000).unwrap()
        );
        assert_eq!(
            message(sigma("blur", "0.29", 30, 10_000)),
            "blur must be a sigma between 0.3 and 100 (at most two decimals)"
        );
        for bad in ["nan", "1e2", "+1", "", ".", "101", "1.234"] {
            assert!(sigma("blur", bad, 30, 10_000).is_err(), "{bad}");
        }
        assert_eq!(pad("5").unwrap().left, 5);
        assert_eq!(
            pad("1,2,3,4").unwrap(),
            Padding {
                top: 1,
                right: 2,
                bottom: 3,
                left: 4
            }
        );
        assert!(message(pad("1,2")).starts_with("pad must be"));
        assert!(message(pad("1001")).starts_with("pad must be"));
    }
}
