//! Reads the float tensors of a legacy (pre-1.6, non-zip) PyTorch checkpoint.
//!
//! Resemblyzer's `pretrained.pt` is in that layout: five pickles in a row —
//! magic number, protocol version, system info, the saved object, the list of
//! storage keys — then every storage as a little-endian `i64` element count
//! followed by its raw little-endian elements, in the order of the key list.
//! Tensors appear in the object as `torch._utils._rebuild_tensor_v2(storage,
//! offset, size, stride, …)` with the storage as a persistent id
//! `("storage", torch.FloatStorage, key, location, size, view)`. Only the
//! pickle opcodes such checkpoints use (protocol 2) are understood; anything
//! else is an error, never a guess. candle-core's reader handles only the zip
//! layout, so this small one stands in.

use std::collections::HashMap;

use super::ModelError;

/// The magic number that opens a legacy checkpoint.
const MAGIC: i128 = 0x1950a86a20f9469cfc6c;

/// A pickled value, reduced to what checkpoints contain.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Seq(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String),
    Storage { key: String, float32: bool },
    Tensor(TensorRef),
    Mark,
    Opaque,
}

/// Where a tensor's elements lie in a storage.
#[derive(Debug, Clone)]
struct TensorRef {
    key: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// A dense row-major float tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<f32>,
}

/// Reads every tensor of the `model_state` dictionary of a checkpoint.
pub(crate) fn read_model_state(bytes: &[u8]) -> Result<HashMap<String, Tensor>, ModelError> {
    let mut r = Reader { bytes, pos: 0 };
    // LONG1 decodes the 10-byte magic number; its low 64 bits identify it.
    if !matches!(Unpickler::default().load(&mut r)?, Value::Int(m) if m == MAGIC as i64) {
        return Err(bad("not a legacy PyTorch checkpoint"));
    }
    Unpickler::default().load(&mut r)?; // protocol version
    Unpickler::default().load(&mut r)?; // system info
    let mut main = Unpickler::default();
    let object = main.load(&mut r)?;
    let keys = match Unpickler::default().load(&mut r)? {
        Value::Seq(k) => k,
        _ => return Err(bad("storage key list missing")),
    };
    let storages = read_storages(&mut r, &keys, &main.element_sizes)?;
    let state = dict_get(&object, "model_state").ok_or_else(|| bad("no model_state"))?;
    let Value::Dict(entries) = state else {
        return Err(bad("model_state is not a dict"));
    };
    entries
        .iter()
        .filter_map(|(k, v)| match (k, v) {
            (Value::Str(name), Value::Tensor(t)) => Some((name.clone(), t)),
            _ => None,
        })
        .map(|(name, t)| Ok((name, materialise(t, &storages)?)))
        .collect()
}

fn bad(what: &str) -> ModelError {
    ModelError::Format(what.to_string())
}

fn dict_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let Value::Dict(entries) = v else { return None };
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
        .map(|(_, v)| v)
}

fn read_storages(
    r: &mut Reader,
    keys: &[Value],
    sizes: &HashMap<String, usize>,
) -> Result<HashMap<String, Vec<u8>>, ModelError> {
    keys.iter()
        .map(|k| {
            let Value::Str(key) = k else {
                return Err(bad("storage key is not a string"));
            };
            let count = i64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
            let size = sizes
                .get(key)
                .ok_or_else(|| bad("storage never referenced"))?;
            let len = usize::try_from(count).map_err(|_| bad("negative storage size"))? * size;
            Ok((key.clone(), r.take(len)?.to_vec()))
        })
        .collect()
}

fn materialise(t: &TensorRef, storages: &HashMap<String, Vec<u8>>) -> Result<Tensor, ModelError> {
    let raw = storages
        .get(&t.key)
        .ok_or_else(|| bad("tensor storage missing"))?;
    let mut expected = 1;
    for (dim, stride) in t.shape.iter().zip(&t.stride).rev() {
        if *stride != expected && *dim > 1 {
            return Err(bad("non-contiguous tensor"));
        }
        expected *= dim;
    }
    let start = t.offset * 4;
    let bytes = raw
        .get(start..start + expected * 4)
        .ok_or_else(|| bad("tensor out of its storage"))?;
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    Ok(Tensor {
        shape: t.shape.clone(),
        data,
    })
}

/// A cursor over the checkpoint bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ModelError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| bad("truncated file"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

/// A protocol-2 pickle machine for one pickle.
#[derive(Default)]
struct Unpickler {
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    /// Element size of every storage seen, by key.
    element_sizes: HashMap<String, usize>,
}

impl Unpickler {
    fn load(&mut self, r: &mut Reader) -> Result<Value, ModelError> {
        self.stack.clear();
        self.memo.clear();
        loop {
            let op = r.u8()?;
            if op == b'.' {
                return self.pop();
            }
            self.step(op, r)?;
        }
    }

    fn step(&mut self, op: u8, r: &mut Reader) -> Result<(), ModelError> {
        match op {
            0x80 => drop(r.u8()?), // PROTO
            b'}' => self.stack.push(Value::Dict(Vec::new())),
            b']' | b')' => self.stack.push(Value::Seq(Vec::new())),
            b'(' => self.stack.push(Value::Mark),
            b'N' => self.stack.push(Value::None),
            0x88 | 0x89 => self.stack.push(Value::Bool),
            b'K' => self.stack.push(Value::Int(r.u8()? as i64)),
            b'M' => self.stack.push(Value::Int(r.u16()? as i64)),
            b'J' => self.stack.push(Value::Int(r.u32()? as i32 as i64)),
            0x8a => self.long1(r)?,
            b'G' => {
                r.take(8)?;
                self.stack.push(Value::Float);
            }
            b'X' => self.unicode(r)?,
            b'c' => self.global(r)?,
            b'q' => self.put(r.u8()? as u32)?,
            b'r' => self.put(r.u32()?)?,
            b'h' => self.get(r.u8()? as u32)?,
            b'j' => self.get(r.u32()?)?,
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(Value::Seq(items));
            }
            0x85..=0x87 => self.tuple_n((op - 0x84) as usize)?,
            b'a' => self.append()?,
            b'e' => self.appends()?,
            b's' => self.setitem()?,
            b'u' => self.setitems()?,
            b'R' => self.reduce()?,
            b'Q' => self.persistent()?,
            b'b' => drop(self.pop()?), // BUILD: object state is not needed
            _ => {
                return Err(ModelError::Format(format!(
                    "unsupported pickle opcode 0x{op:02x}"
                )));
            }
        }
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, ModelError> {
        self.stack
            .pop()
            .ok_or_else(|| bad("pickle stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, ModelError> {
        let at = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or_else(|| bad("no mark"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn long1(&mut self, r: &mut Reader) -> Result<(), ModelError> {
        let n = r.u8()? as usize;
        let bytes = r.take(n)?;
        let mut v: i128 = 0;
        for (i, b) in bytes.iter().enumerate().take(16) {
            v |= (*b as i128) << (8 * i);
        }
        self.stack.push(Value::Int(v as i64));
        Ok(())
    }

    fn unicode(&mut self, r: &mut Reader) -> Result<(), ModelError> {
        let n = r.u32()? as usize;
        let s = std::str::from_utf8(r.take(n)?).map_err(|_| bad("bad utf-8"))?;
        self.stack.push(Value::Str(s.to_string()));
        Ok(())
    }

    fn global(&mut self, r: &mut Reader) -> Result<(), ModelError> {
        let mut line = || -> Result<String, ModelError> {
            let mut s = Vec::new();
            loop {
                match r.u8()? {
                    b'\n' => return String::from_utf8(s).map_err(|_| bad("bad global name")),
                    c => s.push(c),
                }
            }
        };
        let module = line()?;
        let name = line()?;
        self.stack.push(Value::Global(format!("{module}.{name}")));
        Ok(())
    }

    fn put(&mut self, idx: u32) -> Result<(), ModelError> {
        let top = self
            .stack
            .last()
            .ok_or_else(|| bad("put on empty stack"))?
            .clone();
        self.memo.insert(idx, top);
        Ok(())
    }

    fn get(&mut self, idx: u32) -> Result<(), ModelError> {
        let v = self
            .memo
            .get(&idx)
            .ok_or_else(|| bad("unknown memo key"))?
            .clone();
        self.stack.push(v);
        Ok(())
    }

    fn tuple_n(&mut self, n: usize) -> Result<(), ModelError> {
        let at = self
            .stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| bad("short tuple"))?;
        let items = self.stack.split_off(at);
        self.stack.push(Value::Seq(items));
        Ok(())
    }

    fn append(&mut self) -> Result<(), ModelError> {
        let v = self.pop()?;
        self.push_into_seq(vec![v])
    }

    fn appends(&mut self) -> Result<(), ModelError> {
        let items = self.pop_mark()?;
        self.push_into_seq(items)
    }

    fn push_into_seq(&mut self, items: Vec<Value>) -> Result<(), ModelError> {
        match self.stack.last_mut() {
            Some(Value::Seq(s)) => s.extend(items),
            _ => return Err(bad("append to a non-list")),
        }
        Ok(())
    }

    fn setitem(&mut self) -> Result<(), ModelError> {
        let v = self.pop()?;
        let k = self.pop()?;
        self.insert(vec![k, v])
    }

    fn setitems(&mut self) -> Result<(), ModelError> {
        let items = self.pop_mark()?;
        self.insert(items)
    }

    fn insert(&mut self, flat: Vec<Value>) -> Result<(), ModelError> {
        let Some(Value::Dict(d)) = self.stack.last_mut() else {
            return Err(bad("setitem on a non-dict"));
        };
        let mut it = flat.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.push((k, v));
        }
        Ok(())
    }

    fn reduce(&mut self) -> Result<(), ModelError> {
        let args = self.pop()?;
        let callable = self.pop()?;
        let value = match (&callable, args) {
            (Value::Global(g), _) if g == "collections.OrderedDict" => Value::Dict(Vec::new()),
            (Value::Global(g), Value::Seq(a)) if g == "torch._utils._rebuild_tensor_v2" => {
                rebuild_tensor(&a)?
            }
            _ => Value::Opaque,
        };
        self.stack.push(value);
        Ok(())
    }

    fn persistent(&mut self) -> Result<(), ModelError> {
        let Value::Seq(pid) = self.pop()? else {
            return Err(bad("persistent id is not a tuple"));
        };
        let (Some(Value::Global(kind)), Some(Value::Str(key))) = (pid.get(1), pid.get(2)) else {
            return Err(bad("persistent id is not a storage"));
        };
        let element_size = storage_element_size(kind)?;
        self.element_sizes.insert(key.clone(), element_size);
        let float32 = kind.ends_with("FloatStorage");
        self.stack.push(Value::Storage {
            key: key.clone(),
            float32,
        });
        Ok(())
    }
}

/// Bytes per element of a legacy storage class.
fn storage_element_size(kind: &str) -> Result<usize, ModelError> {
    Ok(match kind.trim_start_matches("torch.") {
        "DoubleStorage" | "LongStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" => 1,
        other => return Err(ModelError::Format(format!("unknown storage type {other}"))),
    })
}

fn rebuild_tensor(args: &[Value]) -> Result<Value, ModelError> {
    let ints = |v: &Value| -> Result<Vec<usize>, ModelError> {
        let Value::Seq(items) = v else {
            return Err(bad("tensor size is not a tuple"));
        };
        items
            .iter()
            .map(|i| match i {
                Value::Int(n) => usize::try_from(*n).map_err(|_| bad("negative dimension")),
                _ => Err(bad("tensor dimension is not an int")),
            })
            .collect()
    };
    match args {
        [
            Value::Storage { key, float32 },
            Value::Int(offset),
            size,
            stride,
            ..,
        ] => {
            // Only float32 tensors make up the encoder; others (optimiser step
            // counters) are kept opaque.
            if !float32 {
                return Ok(Value::Opaque);
            }
            Ok(Value::Tensor(TensorRef {
                key: key.clone(),
                offset: usize::try_from(*offset).map_err(|_| bad("negative offset"))?,
                shape: ints(size)?,
                stride: ints(stride)?,
            }))
        }
        _ => Err(bad("unexpected tensor arguments")),
    }
}
