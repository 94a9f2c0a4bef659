import { api } from "../../src/core/api.js";
import { invitationRoutes } from "../../src/team/handlers.js";

export default api(invitationRoutes);
