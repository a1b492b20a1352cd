//! A stacked unidirectional LSTM with PyTorch's weight layout, run on a batch
//! of equally long sequences.
//!
//! The input projection of a whole layer is done up front; only the recurrent
//! product is sequential. The batch is walked inside each weight row so the
//! row stays in cache while every sequence uses it.

use super::ModelError;
use crate::lanes::lane_dot;

/// Hidden size of every layer.
pub(crate) const HIDDEN: usize = 256;
const LAYERS: usize = 3;
const GATES: usize = 4 * HIDDEN;

/// One layer's weights: `w_ih` is `4H × input`, `w_hh` is `4H × H`, and the
/// two PyTorch biases are summed into one.
struct Layer {
    input: usize,
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    bias: Vec<f32>,
}

/// The stacked LSTM.
pub(crate) struct Lstm {
    layers: Vec<Layer>,
}

impl Lstm {
    /// Takes `lstm.{weight,bias}_{ih,hh}_l{k}` through `take(name, shape)`.
    pub(crate) fn from_weights(
        take: &mut impl FnMut(&str, &[usize]) -> Result<Vec<f32>, ModelError>,
        n_input: usize,
    ) -> Result<Self, ModelError> {
        let layers = (0..LAYERS)
            .map(|k| {
                let input = if k == 0 { n_input } else { HIDDEN };
                let b_ih = take(&format!("lstm.bias_ih_l{k}"), &[GATES])?;
                let b_hh = take(&format!("lstm.bias_hh_l{k}"), &[GATES])?;
                Ok(Layer {
                    input,
                    w_ih: take(&format!("lstm.weight_ih_l{k}"), &[GATES, input])?,
                    w_hh: take(&format!("lstm.weight_hh_l{k}"), &[GATES, HIDDEN])?,
                    bias: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Self { layers })
    }

    /// The last layer's hidden state after the last frame of each sequence.
    pub(crate) fn final_hidden(&self, batch: &[&[Vec<f32>]]) -> Vec<Vec<f32>> {
        let steps = batch.first().map_or(0, |s| s.len());
        // seq[b][t] is a flat vector of the current layer's input.
        let mut seq: Vec<Vec<f32>> = batch.iter().map(|s| s.concat()).collect();
        for layer in &self.layers {
            seq = layer.run(&seq, steps);
        }
        seq.iter()
            .map(|s| s[(steps - 1) * HIDDEN..].to_vec())
            .collect()
    }
}

impl Layer {
    /// Runs the layer over every sequence; returns each hidden-state sequence.
    fn run(&self, inputs: &[Vec<f32>], steps: usize) -> Vec<Vec<f32>> {
        let n = inputs.len();
        let projected: Vec<Vec<f32>> = inputs
            .iter()
            .map(|x| self.project_inputs(x, steps))
            .collect();
        let mut h = vec![vec![0.0f32; HIDDEN]; n];
        let mut c = vec![vec![0.0f32; HIDDEN]; n];
        let mut out = vec![Vec::with_capacity(steps * HIDDEN); n];
        let mut gates = vec![vec![0.0f32; GATES]; n];
        for t in 0..steps {
            for (b, g) in gates.iter_mut().enumerate() {
                g.copy_from_slice(&projected[b][t * GATES..(t + 1) * GATES]);
            }
            for (row, w) in self.w_hh.chunks_exact(HIDDEN).enumerate() {
                for b in 0..n {
                    gates[b][row] += lane_dot(w, &h[b]);
                }
            }
            for b in 0..n {
                cell_update(&gates[b], &mut h[b], &mut c[b]);
                out[b].extend_from_slice(&h[b]);
            }
        }
        out
    }

    /// `W_ih·x_t + bias` for every frame of one sequence.
    fn project_inputs(&self, x: &[f32], steps: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(steps * GATES);
        for frame in x.chunks_exact(self.input) {
            out.extend(
                self.w_ih
                    .chunks_exact(self.input)
                    .zip(&self.bias)
                    .map(|(w, b)| lane_dot(w, frame) + b),
            );
        }
        out
    }
}

/// Gate non-linearities and the state update, PyTorch order i, f, g, o.
fn cell_update(gates: &[f32], h: &mut [f32], c: &mut [f32]) {
    for k in 0..HIDDEN {
        let i = sigmoid(gates[k]);
        let f = sigmoid(gates[HIDDEN + k]);
        let g = gates[2 * HIDDEN + k].tanh();
        let o = sigmoid(gates[3 * HIDDEN + k]);
        c[k] = f * c[k] + i * g;
        h[k] = o * c[k].tanh();
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saturated_cell_copies_its_candidate_into_the_state() {
        // Input and output gates wide open, forget gate shut: c = g, h = tanh(g).
        let mut gates = vec![0.0f32; GATES];
        gates[..HIDDEN].fill(30.0);
        gates[HIDDEN..2 * HIDDEN].fill(-30.0);
        gates[2 * HIDDEN..3 * HIDDEN].fill(0.5);
        gates[3 * HIDDEN..].fill(30.0);
        let (mut h, mut c) = (vec![0.0; HIDDEN], vec![7.0; HIDDEN]);
        cell_update(&gates, &mut h, &mut c);
        assert!((c[0] - 0.5f32.tanh()).abs() < 1e-5);
        assert!((h[0] - 0.5f32.tanh().tanh()).abs() < 1e-5);
    }
}
