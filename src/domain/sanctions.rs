//! Sanctions lists as published: OFAC's `SDN.XML` and `SDN_ADVANCED.XML` (the digital currency
//! addresses they carry, with the listed entity's name and the publication date), a plain list
//! (one address a line, `#` comments) or a CSV (`address,reason`); and the one form an address
//! is compared in, whatever network family it belongs to.

use chrono::NaiveDate;
use quick_xml::events::Event;

/// Longest address a list may hold: longer lines are not addresses.
const MAX_ADDRESS_CHARS: usize = 128;
/// Longest entity name or reason kept.
const MAX_ENTITY_CHARS: usize = 300;
/// OFAC's feature and id types for addresses start so ("Digital Currency Address - ETH").
const DIGITAL_CURRENCY: &str = "Digital Currency Address";

/// One listed address (in its compared form) and who or what it is listed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub address: String,
    pub entity: String,
}

/// A parsed list: its addresses (each once) and the date its publisher gives, if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub published: Option<NaiveDate>,
    pub entries: Vec<Listed>,
    /// Which shape the file had, for the import's record: "SDN.XML", "SDN_ADVANCED.XML", "CSV", "plain".
    pub shape: &'static str,
}

/// The form a listed and a paid address are compared in: EVM addresses lower-cased (the same on
/// every EVM chain), bech32 lower-cased, a TRON address in hex (41…) written as its base58
/// form, anything else (base58: Bitcoin's and Litecoin's legacy forms, Solana, TRON) exact.
pub fn normalize(address: &str) -> String {
    let a = address.trim();
    let hex_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    if a.len() == 42 && (a.starts_with("0x") || a.starts_with("0X")) && hex_digits(&a[2..]) {
        return a.to_ascii_lowercase();
    }
    if a.len() == 42
        && a.starts_with("41")
        && let Ok(raw) = hex::decode(a)
    {
        return bs58::encode(raw).with_check().into_string();
    }
    let lower = a.to_ascii_lowercase();
    // bech32 is one case throughout; a mixed-case string is not bech32 and stays as it is.
    if (a == lower || a == a.to_ascii_uppercase())
        && let Some((hrp, _)) = lower.rsplit_once('1')
        && matches!(hrp, "bc" | "tb" | "bcrt" | "ltc" | "tltc" | "rltc")
    {
        return lower;
    }
    a.to_owned()
}

/// Reads a list file of any of the four shapes; an error names what is wrong (and where) and
/// means nothing of the file is to be used.
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| format!("the file is not UTF-8 text (byte {})", e.valid_up_to()))?;
    let text = text.trim_start_matches('\u{feff}');
    let head = text.trim_start();
    // An empty file is an accident (a failed download); a list is emptied by a file of comments.
    if head.is_empty() {
        return Err("the file is empty".into());
    }
    let parsed = if head.starts_with('<') {
        let parsed = if text.contains("<sdnList") {
            sdn(text)?
        } else if text.contains("<Sanctions") {
            sdn_advanced(text)?
        } else {
            return Err("an XML file that is neither SDN.XML (<sdnList>) nor SDN_ADVANCED.XML (<Sanctions>)".into());
        };
        // OFAC's lists always carry addresses: none means another file, not an empty list.
        if parsed.entries.is_empty() {
            return Err(format!("this {} holds no digital currency address", parsed.shape));
        }
        parsed
    } else if text.lines().any(|l| !l.trim_start().starts_with('#') && l.contains(',')) {
        csv_list(text)?
    } else {
        plain(text)?
    };
    Ok(Parsed { entries: dedup(parsed.entries), ..parsed })
}

/// Each address once (its first entry), in address order: the database's indexes then take the
/// rows as appends instead of a million random inserts.
fn dedup(entries: Vec<Listed>) -> Vec<Listed> {
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    let mut once: Vec<Listed> = entries.into_iter().filter(|e| seen.insert(e.address.clone())).collect();
    once.sort_unstable_by(|a, b| a.address.cmp(&b.address));
    once
}

fn listed(address: &str, entity: &str, at: impl Fn() -> String) -> Result<Listed, String> {
    let address = address.trim();
    if address.chars().count() > MAX_ADDRESS_CHARS || address.chars().any(char::is_whitespace) {
        let shown: String = address.chars().take(40).collect();
        return Err(format!("{}: {shown:?} is not an address", at()));
    }
    let entity: String = entity.trim().chars().take(MAX_ENTITY_CHARS).collect();
    Ok(Listed { address: normalize(address), entity })
}

fn plain(text: &str) -> Result<Parsed, String> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        entries.push(listed(line, "", || format!("line {}", n + 1))?);
    }
    Ok(Parsed { published: None, entries, shape: "plain" })
}

fn csv_list(text: &str) -> Result<Parsed, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut entries = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("CSV: {e}"))?;
        let line = record.position().map_or(n as u64 + 1, |p| p.line());
        let address = record.get(0).unwrap_or_default();
        if address.is_empty() || (n == 0 && address.eq_ignore_ascii_case("address")) {
            continue;
        }
        if record.len() > 2 {
            return Err(format!("line {line}: {} columns; a list's CSV has two (address,reason)", record.len()));
        }
        entries.push(listed(address, record.get(1).unwrap_or_default(), || format!("line {line}, column 1"))?);
    }
    Ok(Parsed { published: None, entries, shape: "CSV" })
}

/// Walks an XML document: `on` is told each element's start (name, attributes) and end (name,
/// its text). Errors name the byte position.
fn walk(text: &str, mut on: impl FnMut(Tag<'_>) -> Result<(), String>) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut content = String::new();
    // The open elements: a file that ends inside one was cut short (a truncated download).
    let mut open: Vec<String> = Vec::new();
    let at = |r: &quick_xml::Reader<&[u8]>| r.buffer_position();
    loop {
        let event = reader.read_event().map_err(|e| format!("XML at byte {}: {e}", at(&reader)))?;
        match event {
            Event::Start(e) => {
                content.clear();
                let name = e.local_name().as_ref().to_owned();
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("XML at byte {}: {e}", at(&reader)))?;
                    let key = a.key.local_name().as_ref().to_owned();
                    attrs.push((key, a.value.into_owned()));
                }
                on(Tag::Start(&name, &attrs))?;
                open.push(name);
            }
            Event::Text(t) => {
                content.push_str(&t.xml10_content());
            }
            Event::CData(t) => content.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| format!("XML at byte {}: {e}", at(&reader)))? {
                    content.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r.into_inner()) {
                    content.push_str(s);
                }
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_owned();
                on(Tag::End(&name, content.trim()))?;
                content.clear();
                open.pop();
            }
            Event::Eof => {
                return match open.last() {
                    Some(inside) => Err(format!("the file ends inside <{inside}>: it was cut short")),
                    None => Ok(()),
                };
            }
            _ => {}
        }
    }
}

enum Tag<'a> {
    Start(&'a str, &'a [(String, String)]),
    End(&'a str, &'a str),
}

/// `SDN.XML`: `<sdnEntry>` with its names and `<idList><id>` whose `idType` is a digital
/// currency address; `<publshInformation><Publish_Date>` as MM/DD/YYYY.
fn sdn(text: &str) -> Result<Parsed, String> {
    let mut out = Parsed { shape: "SDN.XML", ..Parsed::default() };
    let (mut first, mut last, mut id_type, mut id_number) =
        (String::new(), String::new(), String::new(), String::new());
    let mut addresses: Vec<String> = Vec::new();
    walk(text, |tag| {
        match tag {
            Tag::Start("sdnEntry", _) => {
                (first, last) = (String::new(), String::new());
                addresses.clear();
            }
            Tag::Start("id", _) => (id_type, id_number) = (String::new(), String::new()),
            Tag::End("Publish_Date", t) => out.published = NaiveDate::parse_from_str(t, "%m/%d/%Y").ok(),
            Tag::End("firstName", t) => first = t.to_owned(),
            Tag::End("lastName", t) => last = t.to_owned(),
            Tag::End("idType", t) => id_type = t.to_owned(),
            Tag::End("idNumber", t) => id_number = t.to_owned(),
            Tag::End("id", _) if id_type.starts_with(DIGITAL_CURRENCY) && !id_number.is_empty() => {
                addresses.push(std::mem::take(&mut id_number));
            }
            Tag::End("sdnEntry", _) => {
                let name = [first.as_str(), last.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                for a in addresses.drain(..) {
                    out.entries.push(listed(&a, &name, || format!("the entry {name:?}"))?);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// `SDN_ADVANCED.XML`: the feature types named "Digital Currency Address - …" in
/// `<ReferenceValueSets>`; each `<DistinctParty>`'s primary alias for its name and its
/// `<Feature FeatureTypeID>`s' `<VersionDetail>` for the addresses; `<DateOfIssue>` for the date.
fn sdn_advanced(text: &str) -> Result<Parsed, String> {
    let mut out = Parsed { shape: "SDN_ADVANCED.XML", ..Parsed::default() };
    let mut currency_types: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut type_id = String::new();
    // Per party: its name parts (of the primary alias) and its features (type id, value).
    let (mut in_primary, mut name_parts, mut features) = (false, Vec::<String>::new(), Vec::<(String, String)>::new());
    let mut feature = String::new();
    let (mut in_issue, mut issued) = (false, [0u32; 3]);
    let mut party_features: Vec<(String, String, String)> = Vec::new();
    let attr = |attrs: &[(String, String)], key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    walk(text, |tag| {
        match tag {
            Tag::Start("DateOfIssue", _) if out.published.is_none() => in_issue = true,
            Tag::End("Year", t) if in_issue => issued[0] = t.parse().unwrap_or(0),
            Tag::End("Month", t) if in_issue => issued[1] = t.parse().unwrap_or(0),
            Tag::End("Day", t) if in_issue => issued[2] = t.parse().unwrap_or(0),
            Tag::End("DateOfIssue", _) if in_issue => {
                in_issue = false;
                out.published = NaiveDate::from_ymd_opt(issued[0] as i32, issued[1], issued[2]);
            }
            Tag::Start("FeatureType", attrs) => type_id = attr(attrs, "ID").unwrap_or_default(),
            Tag::End("FeatureType", t) if t.starts_with(DIGITAL_CURRENCY) => {
                currency_types.insert(std::mem::take(&mut type_id));
            }
            Tag::Start("DistinctParty", _) => {
                name_parts.clear();
                features.clear();
            }
            Tag::Start("Alias", attrs) => {
                in_primary = attr(attrs, "Primary").as_deref() == Some("true") && name_parts.is_empty()
            }
            Tag::End("Alias", _) => in_primary = false,
            Tag::End("NamePartValue", t) if in_primary => name_parts.push(t.to_owned()),
            Tag::Start("Feature", attrs) => feature = attr(attrs, "FeatureTypeID").unwrap_or_default(),
            Tag::End("VersionDetail", t) if !feature.is_empty() && !t.is_empty() => {
                features.push((feature.clone(), t.to_owned()))
            }
            Tag::End("Feature", _) => feature.clear(),
            Tag::End("DistinctParty", _) => {
                let name = name_parts.join(" ");
                party_features.extend(features.drain(..).map(|(t, v)| (t, v, name.clone())));
            }
            _ => {}
        }
        Ok(())
    })?;
    // The reference values come first in OFAC's files; kept apart so that order does not matter.
    for (kind, value, name) in party_features {
        if currency_types.contains(&kind) {
            out.entries.push(listed(&value, &name, || format!("the party {name:?}"))?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_in_one_form_per_family() {
        let evm = "0x8589427373D6D84E98730D7795D8f6f8731FDA16";
        assert_eq!(normalize(evm), evm.to_ascii_lowercase());
        assert_eq!(normalize(&evm.to_ascii_lowercase()), normalize(evm));
        assert_eq!(
            normalize("BC1QA5WKGAEW2DKV56KFVJ49J0AV5NML45X9EK9HZ6"),
            "bc1qa5wkgaew2dkv56kfvj49j0av5nml45x9ek9hz6"
        );
        // base58 is case-sensitive: left exactly as listed.
        assert_eq!(normalize("1AjZPMsnmpdK2Rv9KQNfMurTXinscVro9V"), "1AjZPMsnmpdK2Rv9KQNfMurTXinscVro9V");
        // A TRON address's hex form is its base58 form.
        let mut raw = vec![0x41u8];
        raw.extend_from_slice(&[7u8; 20]);
        let base58 = bs58::encode(&raw).with_check().into_string();
        assert_eq!(normalize(&hex::encode(&raw)), base58);
        assert_eq!(normalize(&hex::encode_upper(&raw)), base58);
        assert_eq!(normalize(&base58), base58);
    }

    #[test]
    fn plain_and_csv_lists_skip_comments_and_headers_and_name_bad_lines() {
        let p = parse(b"# our denylist\n\n0xAbC0000000000000000000000000000000000001\n  bc1qxyz  \n").unwrap();
        assert_eq!(p.shape, "plain");
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].address, "0xabc0000000000000000000000000000000000001");
        let c = parse(b"address,reason\n0xabc0000000000000000000000000000000000001,fraud ring\n# note\nT9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb,\"scam, reported\"\n").unwrap();
        assert_eq!(c.shape, "CSV");
        assert_eq!(c.entries[1].entity, "scam, reported");
        let bad = parse(b"address,reason\nnot an address,x\n").unwrap_err();
        assert!(bad.contains("line 2, column 1"), "{bad}");
        let wide = parse(b"a,b,c\n").unwrap_err();
        assert!(wide.contains("line 1") && wide.contains("3 columns"), "{wide}");
    }

    #[test]
    fn broken_xml_is_refused_whole() {
        let e = parse(b"<sdnList><sdnEntry><lastName>X</sdnEntry></sdnList>").unwrap_err();
        assert!(e.contains("XML at byte"), "{e}");
        let cut = parse(b"<sdnList><sdnEntry><lastName>X</lastName>").unwrap_err();
        assert!(cut.contains("ends inside <sdnEntry>"), "{cut}");
        let empty = parse(b"<sdnList><publshInformation/></sdnList>").unwrap_err();
        assert!(empty.contains("holds no digital currency address"), "{empty}");
        assert!(parse(b"<html></html>").is_err());
    }
}
