/** Creates the driver named by config.robot. */
import type { Config } from '../config.ts';
import { KinematicDriver } from './kinematic.ts';
import type { RobotDriver } from './types.ts';

export async function createDriver(config: Config): Promise<RobotDriver> {
  switch (config.robot) {
    case 'kinematic':
      return new KinematicDriver(config.safety);
    default:
      throw new Error(`driver ${config.robot} is not available in this build`);
  }
}
