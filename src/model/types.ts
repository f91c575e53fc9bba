// The one Model interface every stage uses, whatever the runtime (ONNX on onnxruntime-node, TF.js).
// Convention: every tensor crossing this interface is float32 NCHW (image batches and layer activations alike);
// a runtime whose model is NHWC transposes inside.

export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export interface InputSpec {
  /** Model input height and width. */
  height: number;
  width: number;
  /** Channels of the batches the Model interface takes: 3 for every image model (a grey model takes RGB). */
  channels: number;
  /** The model's own input channels when they differ from `channels` (1: a grey model, RGB reduced by luma). */
  modelChannels?: number;
  /** Layout the model itself takes; batches given to Model methods are always NCHW. */
  layout: 'NCHW' | 'NHWC';
  channelOrder: 'RGB' | 'BGR';
  /** Pixel in [0,255] → (pixel · scale − mean) / std, per channel in channelOrder. */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface LayerInfo {
  /** Tensor name in the model (ONNX value name / tfjs layer name). */
  name: string;
  /** Alias from the model config (e.g. `layer4`), if any. */
  alias?: string;
  /** Op that produces it (Conv, Relu, Add, …). */
  op: string;
  /** Shape for batch 1, NCHW (batch dim = 1). */
  shape: number[];
  /** Channels (units) for 4-D outputs. */
  units: number;
}

export interface ModelInfo {
  id: string;
  runtime: 'onnx' | 'tfjs';
  /** e.g. 'onnxruntime-node cpu', 'tfjs wasm'. */
  backend: string;
  input: InputSpec;
  labels: string[];
  numClasses: number;
  layers: LayerInfo[];
  parameters: number;
  /**
   * What the model's output row is: 'logits' (default; predict() applies softmax) or 'probabilities' (the model ends
   * in its own softmax: predict() returns them as they are, both as `logits` and `probs`).
   */
  output?: 'logits' | 'probabilities';
}

export interface GradientResult {
  /** Activations of the layer, NCHW. */
  activations: Tensor;
  /** d(Σ_n Σ_c weight[n,c] · logit[n,c]) / d(activations), same shape. */
  gradients: Tensor;
  logits: Tensor;
}

export interface Model {
  readonly info: ModelInfo;
  /** Logits and softmax probabilities, [N, classes] (a probabilities model: its outputs, twice; see ModelInfo.output). */
  predict(batch: Tensor): Promise<{ logits: Tensor; probs: Tensor }>;
  /** Activations of named layers (names or aliases) in one forward. */
  activations(batch: Tensor, layers: string[]): Promise<Record<string, Tensor>>;
  /**
   * Gradient of the weighted logit sum w.r.t. a layer (name or alias). `weights` is [N × classes] (one-hot rows for
   * a class target). Layer `input` means the input image.
   */
  gradients(batch: Tensor, layer: string, weights: Float32Array): Promise<GradientResult>;
  /**
   * Optional: the gradient of each image's top-1 logit (argmax of its logits, first on ties) w.r.t. a layer, in one
   * forward + backward (no separate forward to find the class); `targets` are those classes. Used by the CAM stage.
   */
  gradientsTop1?(batch: Tensor, layer: string): Promise<GradientResult & { targets: number[] }>;
  /** Logits computed from a layer's activations (the head of the network after that layer). */
  forwardFrom(layer: string, activations: Tensor): Promise<Tensor>;
  /** Largest batch that fits a memory budget in bytes (activations of the widest layer dominate). */
  batchSizeFor(budgetBytes: number): number;
  dispose(): Promise<void>;
}
