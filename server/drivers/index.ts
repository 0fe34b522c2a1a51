/** Creates the driver named by config.robot. */
import type { Config } from '../config.ts';
import { KinematicDriver } from './kinematic.ts';
import { RosbridgeDriver } from './rosbridge.ts';
import type { RobotDriver } from './types.ts';

export async function createDriver(config: Config): Promise<RobotDriver> {
  switch (config.robot) {
    case 'kinematic':
      return new KinematicDriver(config.safety);
    case 'rosbridge':
      return new RosbridgeDriver(config.rosbridge, config.safety);
    case 'sim': {
      // Loaded lazily: MuJoCo's wasm is only needed when the sim driver is chosen.
      const { SimDriver } = await import('./sim.ts');
      return SimDriver.create(config);
    }
  }
}
