//! The bytes groups travel in - between workers, to spill files and back: little-endian
//! numbers and LEB128 lengths, written into a `Vec<u8>` and read back with a cursor. One
//! batch carries thousands of groups in one buffer, so nothing is allocated a group.

/// Appends to a batch.
pub trait Put {
    /// Eight bytes, little-endian.
    fn put_u64(&mut self, x: u64);
    /// A float's eight bytes, as its bits: exact, -0.0 and NaN included.
    fn put_f64(&mut self, x: f64);
    /// A length or a small count: 1 byte below 128, 2 below 16384, at most 10.
    fn put_len(&mut self, x: u64);
    /// A length, then the bytes.
    fn put_bytes(&mut self, bytes: &[u8]);
}

impl Put for Vec<u8> {
    fn put_u64(&mut self, x: u64) {
        self.extend_from_slice(&x.to_le_bytes());
    }

    fn put_f64(&mut self, x: f64) {
        self.put_u64(x.to_bits());
    }

    fn put_len(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.push(x.to_le_bytes()[0] | 0x80);
            x >>= 7;
        }
        self.push(x.to_le_bytes()[0]);
    }

    fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_len(bytes.len() as u64);
        self.extend_from_slice(bytes);
    }
}

/// The bytes [`Put::put_len`] writes for `x`.
pub fn len_bytes(x: u64) -> u64 {
    u64::from((64 - (x | 1).leading_zeros()).div_ceil(7))
}

/// A length written by [`Put::put_len`] into a file, read back; `None` at the end of the file,
/// an error where the file ends inside one.
pub fn read_len(reader: &mut impl std::io::Read) -> std::io::Result<Option<u64>> {
    let (mut x, mut shift) = (0_u64, 0);
    loop {
        let mut byte = [0];
        if reader.read(&mut byte)? == 0 {
            if shift == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "a file of lengths cut short",
            ));
        }
        x |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] < 0x80 {
            return Ok(Some(x));
        }
        shift += 7;
    }
}

/// Reads a batch from the start. The batches are this program's own, made by [`Put`]: a
/// short one is a bug, so reading past the end panics with that message.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// How many bytes have been read.
    pub fn at(&self) -> usize {
        self.at
    }

    /// The next byte, left unread; `None` at the end.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The next `n` bytes, as they are.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let taken = self.bytes.get(self.at..self.at + n).expect("a batch this program wrote");
        self.at += n;
        taken
    }

    /// A number written by [`Put::put_u64`].
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().expect("8 bytes"))
    }

    /// A float written by [`Put::put_f64`].
    pub fn f64(&mut self) -> f64 {
        f64::from_bits(self.u64())
    }

    /// A length or count written by [`Put::put_len`].
    pub fn len(&mut self) -> u64 {
        let (mut x, mut shift) = (0_u64, 0);
        loop {
            let byte = self.take(1)[0];
            x |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return x;
            }
            shift += 7;
        }
    }

    /// Bytes written by [`Put::put_bytes`], borrowed from the batch, not copied.
    pub fn bytes(&mut self) -> &'a [u8] {
        let n = usize::try_from(self.len()).expect("a length this program wrote");
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_put_is_read_back_in_order() {
        let mut batch = Vec::new();
        batch.put_len(5);
        batch.put_len(300);
        batch.put_len(u64::MAX);
        batch.put_bytes(b"BOS");
        batch.put_f64(-0.5);
        batch.put_u64(7);
        let mut r = Reader::new(&batch);
        assert_eq!((r.len(), r.len(), r.len()), (5, 300, u64::MAX));
        assert_eq!(r.bytes(), b"BOS");
        assert_eq!((r.f64(), r.u64()), (-0.5, 7));
        assert!(r.is_empty());
    }
}
