// CAM family (pytorch-grad-cam 1.5.5 semantics). Pure functions: the model enters only as callbacks.
// Typical flow for one target layer:
//   raw = await rawCam('gradcam', { acts, grads, targets, target: 'logit', eigenSmooth: false })  // methods.ts registry
//   (rawCamParts: the raw cam with its channel weights; reluCam(raw) = the library's cam before scale_cam_image)
//   cam = postprocessCam(raw, N, h, w, inputH, inputW)               // ReLU, min-max, cv2-style resize
//   several layers: aggregateLayers([cam1, cam2], N, inputH, inputW)
//   overlay = showCamOnImage(rgb, H, W, cam.subarray(i·H·W, (i+1)·H·W))
export * from './dims.ts';
export * from './gradient.ts';
export * from './methods.ts';
export * from './targets.ts';
export * from './eigen.ts';
export * from './ablation.ts';
export * from './score.ts';
export * from './postprocess.ts';
export * from './colormap.ts';

