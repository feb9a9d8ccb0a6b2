//! Parsing of the human-friendly value forms the configuration accepts: durations ("10s"),
//! byte sizes ("128MiB"), address ranges ("10.0.0.0/8") and comma-separated lists.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::raw::{ListValue, SizeValue};

pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as \"10s\" or \"500ms\" ({e})"))
}

/// A duration, or `None` for "off" (also "0", "0s", "").
pub fn optional_duration(text: &str) -> Result<Option<Duration>, String> {
    match text.trim() {
        "" | "off" | "0" => Ok(None),
        t => duration(t).map(|d| (!d.is_zero()).then_some(d)),
    }
}

pub fn size(value: &SizeValue) -> Result<u64, String> {
    match value {
        SizeValue::Bytes(n) => Ok(*n),
        SizeValue::Text(text) => text
            .trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|_| format!("{text:?} is not a size such as 1048576, \"128MiB\" or \"1GiB\"")),
    }
}

/// The items of a list as strings, splitting a single string on commas.
pub fn list_items(value: &ListValue) -> Result<Vec<String>, String> {
    match value {
        ListValue::Text(text) => Ok(text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()),
        ListValue::Items(items) => items
            .iter()
            .map(|v| v.clone().into_string().map_err(|e| e.to_string()))
            .collect(),
    }
}

/// A CIDR range; a bare address means that one host.
pub fn cidr(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{text:?} is not an address range such as \"10.0.0.0/8\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_bytes_and_binary_units() {
        assert_eq!(size(&SizeValue::Bytes(5)).unwrap(), 5);
        assert_eq!(size(&SizeValue::Text("128MiB".into())).unwrap(), 128 << 20);
        assert_eq!(size(&SizeValue::Text("1 GiB".into())).unwrap(), 1 << 30);
        assert_eq!(size(&SizeValue::Text("2048".into())).unwrap(), 2048);
        assert!(size(&SizeValue::Text("lots".into())).is_err());
    }

    #[test]
    fn durations_and_off() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(optional_duration("off").unwrap(), None);
        assert_eq!(
            optional_duration("5m").unwrap(),
            Some(Duration::from_secs(300))
        );
        assert!(duration("soon").is_err());
    }

    #[test]
    fn cidrs_accept_bare_addresses() {
        assert_eq!(cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(cidr("::1").unwrap().to_string(), "::1/128");
        assert!(cidr("10.0.0.0/33").is_err());
    }

    #[test]
    fn lists_split_on_commas() {
        let v = ListValue::Text("127.0.0.1/32, 10.0.0.0/8,".into());
        assert_eq!(list_items(&v).unwrap(), vec!["127.0.0.1/32", "10.0.0.0/8"]);
    }
}
