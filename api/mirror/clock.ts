export { systemClock, type Clock } from "../../common/clock.js";
