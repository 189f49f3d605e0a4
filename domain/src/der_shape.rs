//! A bounded look at DER bytes before any decoder touches them. A hostile CMS signature can hide
//! thousands of elements in one SET OF, which a strict DER decoder checks for canonical order at
//! a cost that grows with the square of their number (2.7 s of CPU for 8,500). This walk reads
//! only tags and lengths, once each, and refuses what no real signature has: more elements in
//! one constructed value, deeper nesting, or more values in all than the limits.

/// Limits on a DER structure's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The most direct elements of one constructed value (a SET, a SEQUENCE, a tagged value).
    pub max_elements: usize,
    /// The deepest nesting of constructed values.
    pub max_depth: usize,
    /// The most values (primitive and constructed) in the whole structure.
    pub max_values: usize,
}

/// What a detached CMS signature with its certificates has, with room: a certificate has a
/// dozen extensions, a name a handful of parts, a signature one to three certificates and a few
/// signed attributes.
pub const SIGNATURE: Shape = Shape {
    max_elements: 64,
    max_depth: 24,
    max_values: 4096,
};

/// Why bytes are not a DER structure of an acceptable shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// Not DER: a length runs past the end, an indefinite length, trailing bytes…
    #[error("not DER: {0}")]
    Malformed(&'static str),
    /// A constructed value with more direct elements than allowed.
    #[error("a value with more than {0} elements")]
    TooManyElements(usize),
    /// Nested deeper than allowed.
    #[error("nested deeper than {0}")]
    TooDeep(usize),
    /// More values in all than allowed.
    #[error("more than {0} values")]
    TooManyValues(usize),
}

/// Checks that `bytes` hold exactly one DER value whose shape is within `limits`. Reads each
/// tag and length once: linear in the input, whatever it holds.
pub fn check(bytes: &[u8], limits: Shape) -> Result<(), ShapeError> {
    let mut values = 0usize;
    let end = walk(bytes, 0, 1, limits, &mut values)?;
    if end != bytes.len() {
        return Err(ShapeError::Malformed("bytes after the value"));
    }
    Ok(())
}

/// Reads one value at `at`; returns where it ends.
fn walk(
    bytes: &[u8],
    at: usize,
    depth: usize,
    limits: Shape,
    values: &mut usize,
) -> Result<usize, ShapeError> {
    *values += 1;
    if *values > limits.max_values {
        return Err(ShapeError::TooManyValues(limits.max_values));
    }
    let (constructed, content, end) = header(bytes, at)?;
    if !constructed {
        return Ok(end);
    }
    if depth > limits.max_depth {
        return Err(ShapeError::TooDeep(limits.max_depth));
    }
    let mut inner = content;
    let mut elements = 0usize;
    while inner < end {
        elements += 1;
        if elements > limits.max_elements {
            return Err(ShapeError::TooManyElements(limits.max_elements));
        }
        inner = walk(&bytes[..end], inner, depth + 1, limits, values)?;
    }
    Ok(end)
}

/// The tag's constructed bit, where the content starts and where the value ends.
fn header(bytes: &[u8], at: usize) -> Result<(bool, usize, usize), ShapeError> {
    let tag = *bytes
        .get(at)
        .ok_or(ShapeError::Malformed("a value is cut off"))?;
    let mut i = at + 1;
    if tag & 0x1f == 0x1f {
        // High tag numbers: base-128, at most four more bytes.
        let mut n = 0;
        loop {
            let b = *bytes
                .get(i)
                .ok_or(ShapeError::Malformed("a tag is cut off"))?;
            i += 1;
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n >= 4 {
                return Err(ShapeError::Malformed("a tag is too long"));
            }
        }
    }
    let first = *bytes
        .get(i)
        .ok_or(ShapeError::Malformed("a length is cut off"))?;
    i += 1;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err(ShapeError::Malformed("an indefinite length"));
        }
        if n > 4 {
            return Err(ShapeError::Malformed("a length is too long"));
        }
        let mut len = 0usize;
        for _ in 0..n {
            let b = *bytes
                .get(i)
                .ok_or(ShapeError::Malformed("a length is cut off"))?;
            i += 1;
            len = (len << 8) | usize::from(b);
        }
        len
    };
    let end = i
        .checked_add(len)
        .filter(|e| *e <= bytes.len())
        .ok_or(ShapeError::Malformed("a length runs past the end"))?;
    Ok((tag & 0x20 != 0, i, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of a constructed value with `tag` around `content`.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = n.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn given_a_set_of_8500_integers_then_it_is_refused_before_any_sort() {
        let mut content = Vec::new();
        for i in (0..8500u32).rev() {
            content.extend(tlv(0x02, &i.to_be_bytes()));
        }
        let set = tlv(0x30, &tlv(0x31, &content));
        assert_eq!(check(&set, SIGNATURE), Err(ShapeError::TooManyElements(64)));
    }

    #[test]
    fn given_deep_nesting_or_too_many_values_then_it_is_refused() {
        let mut v = tlv(0x05, &[]);
        for _ in 0..30 {
            v = tlv(0x30, &v);
        }
        assert_eq!(check(&v, SIGNATURE), Err(ShapeError::TooDeep(24)));
        // 64 sequences of 64 nulls: 4,161 values.
        let row = tlv(0x30, &tlv(0x05, &[]).repeat(64));
        let many = tlv(0x30, &row.repeat(64));
        assert_eq!(
            check(&many, SIGNATURE),
            Err(ShapeError::TooManyValues(4096))
        );
    }

    #[test]
    fn given_broken_lengths_then_it_is_malformed_never_a_panic() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x05, 0x02, 0x01],
            &[0x30, 0x00, 0x00],
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00],
            &[0x30, 0x03, 0x30, 0x05, 0x00],
        ] {
            assert!(
                matches!(check(bad, SIGNATURE), Err(ShapeError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn given_an_ordinary_structure_then_it_passes() {
        let name = tlv(
            0x30,
            &tlv(
                0x31,
                &tlv(0x30, &[tlv(0x06, &[0x55, 4, 3]), tlv(0x0c, b"x")].concat()),
            ),
        );
        let signed = tlv(
            0x30,
            &[tlv(0x06, &[1, 2, 3]), tlv(0xa0, &name), tlv(0x31, &[])].concat(),
        );
        assert_eq!(check(&signed, SIGNATURE), Ok(()));
    }
}
