/**
 * Chart.js with only the parts the main chart uses registered, so the bundle carries nothing else
 * (a line chart: line and point elements, category and linear scales, the fill and the tooltip).
 */
import {
  CategoryScale,
  Chart,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, CategoryScale, LinearScale, Filler, Tooltip);

export { Chart };
