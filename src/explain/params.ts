// Params-schema pieces shared by the per-image explanation stages (cam, lime). Light: stage modules import it at top
// level, so it must not pull heavy packages.

/** `image`: how dataset images reach the model's input size. */
export const imageFitSchema = {
  type: 'object',
  default: {},
  properties: {
    fit: { enum: ['stretch', 'center-crop'], default: 'stretch', description: 'how images reach the model input size' },
    resize: { type: 'integer', minimum: 1, description: 'center-crop: shorter side before the crop (e.g. 256 for 224)' },
  },
} as const;

/** `limit`: use only the first N images. */
export const limitSchema = { type: 'integer', minimum: 1, description: 'use only the first N images of the dataset' } as const;

/** The inputs of a stage that explains a model's predictions on a dataset. */
export const modelImagesInputs = {
  model: { description: 'the classifier (load-model stage)', kinds: ['load-model'] },
  images: { description: 'the images (dataset or synth-dataset stage)', kinds: ['dataset', 'synth-dataset'] },
};
